package qwenchat.presets;

/** The request may not change presets because it lacks the right credential: a 401, not a 403. */
public class PresetEditUnauthorizedException extends PresetEditForbiddenException {

    public PresetEditUnauthorizedException(String message) {
        super(message);
    }
}
