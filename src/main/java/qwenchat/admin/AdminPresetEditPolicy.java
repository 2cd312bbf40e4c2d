package qwenchat.admin;

import jakarta.servlet.http.HttpServletRequest;
import qwenchat.presets.PresetEditPolicy;
import qwenchat.presets.PresetEditUnauthorizedException;

/** Preset changes need the admin token; reading presets stays open to every chat user. */
final class AdminPresetEditPolicy implements PresetEditPolicy {

    private final AdminToken token;

    AdminPresetEditPolicy(AdminToken token) {
        this.token = token;
    }

    @Override
    public void checkMayEdit(HttpServletRequest request) {
        if (token.authorizes(request)) return;
        throw new PresetEditUnauthorizedException(AdminToken.bearer(request) == null
                ? "changing presets needs the admin token: send it as 'Authorization: Bearer <token>'"
                : "incorrect admin token");
    }
}
