package qwenchat.web;

import jakarta.servlet.http.HttpServletResponse;
import java.util.Locale;
import org.springframework.stereotype.Controller;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;

/** The chat page. Everything after the first paint comes over the WebSocket and /api/presets. */
@Controller
public class PageController {

    /**
     * A second line of defence behind DOMPurify: only our own scripts run, and model output cannot
     * load images or frames from elsewhere (no tracking pixels, no exfiltration through URLs).
     */
    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'self'";

    @GetMapping("/")
    public String index(Locale locale, Model model, HttpServletResponse response) {
        response.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
        response.setHeader("X-Content-Type-Options", "nosniff");
        // The first paint already speaks the browser's language; the page's switch can change it.
        model.addAttribute("lang", locale.getLanguage().equals("zh") ? "zh" : "en");
        return "index";
    }
}
