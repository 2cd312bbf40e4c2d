package qwenchat.web;

import java.util.Locale;
import org.springframework.stereotype.Controller;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;

/**
 * The chat page. Everything after the first paint comes over the WebSocket and /api/presets. Its
 * headers (CSP, framing) come from {@code qwenchat.security.SecurityConfiguration}.
 */
@Controller
public class PageController {

    @GetMapping("/")
    public String index(Locale locale, Model model) {
        // The first paint already speaks the browser's language; the page's switch can change it.
        model.addAttribute("lang", locale.getLanguage().equals("zh") ? "zh" : "en");
        return "index";
    }
}
