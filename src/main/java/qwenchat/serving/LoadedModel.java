package qwenchat.serving;

import qwenchat.engine.InferenceEngine;

/** A model ready to serve: what the web layers see, plus the engine only the scheduler drives. */
record LoadedModel(ServedModel served, InferenceEngine engine) {
}
