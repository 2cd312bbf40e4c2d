package qwenchat.presets;

import jakarta.servlet.http.HttpServletRequest;

/**
 * Decides who may create, edit, delete or import custom presets. {@link #allowAll()} is the default
 * bean; the running app replaces it with the admin-token policy ({@code qwenchat.admin}), which
 * answers 401 through {@link PresetEditUnauthorizedException}.
 */
public interface PresetEditPolicy {

    /** Throws {@link PresetEditForbiddenException} when the request may not change presets. */
    void checkMayEdit(HttpServletRequest request);

    static PresetEditPolicy allowAll() {
        return request -> { };
    }
}
