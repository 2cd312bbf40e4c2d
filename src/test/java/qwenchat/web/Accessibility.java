package qwenchat.web;

import com.deque.html.axecore.results.Results;
import com.deque.html.axecore.results.Rule;
import com.deque.html.axecore.selenium.AxeBuilder;
import java.util.List;
import java.util.Set;
import org.openqa.selenium.WebDriver;

/** axe-core, run in the page under test: the violations a screen-reader or keyboard user would hit hardest. */
public final class Accessibility {

    private static final Set<String> BLOCKING = Set.of("serious", "critical");

    private Accessibility() {
    }

    /** One line per serious or critical violation on the page as it is now: rule, impact and the elements. */
    public static List<String> seriousViolations(WebDriver driver) {
        Results results = new AxeBuilder().analyze(driver);
        if (results.isErrored()) throw new AssertionError("axe-core failed: " + results.getErrorMessage());
        return results.getViolations().stream()
                .filter(r -> BLOCKING.contains(r.getImpact()))
                .map(Accessibility::describe)
                .toList();
    }

    private static String describe(Rule r) {
        return r.getId() + " (" + r.getImpact() + "): " + r.getHelp() + " at "
                + r.getNodes().stream().map(n -> String.valueOf(n.getTarget())).limit(5).toList();
    }
}
