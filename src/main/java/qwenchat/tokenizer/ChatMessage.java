package qwenchat.tokenizer;

/** One chat turn: role is system, user, assistant (tool roles come later). */
public record ChatMessage(String role, String content) {
}
