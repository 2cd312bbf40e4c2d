package qwenchat.serving;

import qwenchat.clienttext.PublicText;
import qwenchat.serving.GenerationException.Code;

/** The MODEL_NOT_READY error for a load status, worded the same for the chat and the API. */
public final class NotReady {

    private NotReady() {
    }

    public static GenerationException of(LoadStatus s) {
        if (s.state() == LoadState.FAILED) {
            return new GenerationException(Code.MODEL_NOT_READY, "the model failed to load: " + PublicText.of(s.error()));
        }
        return new GenerationException(Code.MODEL_NOT_READY,
                "model is loading (" + (long) Math.floor(s.percent()) + "%)");
    }
}
