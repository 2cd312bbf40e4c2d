package qwenchat.api;

import qwenchat.generation.GenerationUsage;

/**
 * The {@code usage} of one API request, over the generations of its {@code n} choices. They share
 * one prompt, so it counts once; completion tokens add up. Cached tokens are the fewest any choice
 * took from the prefix cache: a choice that reused its sibling's freshly computed prompt does not
 * make the prompt, counted once, any cheaper than the one computation it did cost.
 */
record RequestUsage(int promptTokens, int completionTokens, int cachedTokens) {

    /** Before any choice has finished. */
    static final RequestUsage NONE = new RequestUsage(0, 0, Integer.MAX_VALUE);

    /** This usage with one more finished choice. */
    RequestUsage plus(GenerationUsage choice) {
        return new RequestUsage(choice.promptTokens(), completionTokens + choice.completionTokens(),
                Math.min(cachedTokens, choice.cachedTokens()));
    }

    int totalTokens() {
        return promptTokens + completionTokens;
    }
}
