package qwenchat.presets;

import jakarta.servlet.http.HttpServletRequest;

/**
 * Decides who may create, edit, delete or import custom presets. Everyone may for now; the admin
 * credential (a later issue) replaces the bean, and nothing else has to change.
 */
public interface PresetEditPolicy {

    /** Throws {@link PresetEditForbiddenException} when the request may not change presets. */
    void checkMayEdit(HttpServletRequest request);

    static PresetEditPolicy allowAll() {
        return request -> { };
    }
}
