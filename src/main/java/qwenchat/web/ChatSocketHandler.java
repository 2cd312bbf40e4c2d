package qwenchat.web;

import jakarta.annotation.PreDestroy;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.tomcat.websocket.Constants;
import org.apache.tomcat.websocket.WsWebSocketContainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import org.springframework.web.socket.BinaryMessage;
import org.springframework.web.socket.CloseStatus;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;
import org.springframework.web.socket.adapter.NativeWebSocketSession;
import org.springframework.web.socket.handler.TextWebSocketHandler;
import qwenchat.clienttext.InputText;
import qwenchat.clienttext.InvalidTextException;
import qwenchat.clienttext.JsonProblems;
import qwenchat.presets.PresetStore;
import qwenchat.serving.GenerationService;
import qwenchat.serving.ModelRuntime;
import qwenchat.sampling.SamplingPolicy;
import qwenchat.serving.QwenProperties;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code /ws/chat}: see docs/protocol.md. Takes frames in pieces so an oversized one gets an
 * {@code error} frame instead of the container closing the socket.
 */
@Component
public class ChatSocketHandler extends TextWebSocketHandler {

    private static final Logger log = LoggerFactory.getLogger(ChatSocketHandler.class);

    private final ModelRuntime runtime;
    private final GenerationService generation;
    private final PresetStore presets;
    private final WebChatProperties limits;
    private final JsonMapper json;
    private final QwenProperties properties;
    private final SamplingPolicy policy;
    private final ExecutorService senders = Executors.newVirtualThreadPerTaskExecutor();
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final ScheduledExecutorService pinger = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("chat-socket-pinger").factory());

    /** Per-socket state: the connection, its status subscription and a frame being assembled. */
    private static final class Session {
        final ChatConnection connection;
        final FrameSender sender;
        AutoCloseable statusSubscription;
        final StringBuilder partial = new StringBuilder();
        long partialBytes;
        boolean discarding; // the frame in progress exceeded the limit; drop its remaining pieces

        Session(ChatConnection connection, FrameSender sender) {
            this.connection = connection;
            this.sender = sender;
        }
    }

    public ChatSocketHandler(ModelRuntime runtime, GenerationService generation, PresetStore presets,
            WebChatProperties limits, JsonMapper json, QwenProperties properties, SamplingPolicy policy) {
        this.properties = properties;
        this.policy = policy;
        long ping = limits.pingInterval().toMillis();
        pinger.scheduleAtFixedRate(this::pingAll, ping, ping, TimeUnit.MILLISECONDS);
        this.runtime = runtime;
        this.generation = generation;
        this.presets = presets;
        this.limits = limits;
        this.json = json;
    }

    @Override
    public boolean supportsPartialMessages() {
        return true;
    }

    @Override
    public void afterConnectionEstablished(WebSocketSession ws) throws Exception {
        ChatConnection[] self = new ChatConnection[1];
        FrameSender sender = new FrameSender(ws, senders, limits.sendBufferBytes(), limits.sendTimeLimit().toMillis(),
                () -> self[0].cancelForOverflow());
        ChatConnection connection = new ChatConnection(sender, runtime, generation, presets, limits, json,
                properties.timeoutMessage(), policy);
        self[0] = connection;
        watchReadIdleness(ws);
        Session session = new Session(connection, sender);
        sessions.put(ws.getId(), session);
        // Subscribe before the first push so no change can fall between the two.
        session.statusSubscription = runtime.onStatus(connection::status);
        connection.status(runtime.status());
    }

    /**
     * Has Tomcat close the socket when nothing at all has been read from it for
     * {@code qwen.web.read-idle-timeout}. This is what ends a frame whose header declares a payload
     * that never comes: the handler never sees such a frame, and Tomcat would otherwise wait for it
     * forever. Quiet but healthy clients stay open because they answer our pings with pongs.
     */
    private void watchReadIdleness(WebSocketSession ws) {
        if (!(ws instanceof NativeWebSocketSession n) || !(n.getNativeSession() instanceof jakarta.websocket.Session s)) {
            log.warn("chat socket {} is not a Tomcat session; idle partial frames will not be timed out", ws.getId());
            return;
        }
        long idle = limits.readIdleTimeout().toMillis();
        s.getUserProperties().put(Constants.READ_IDLE_TIMEOUT_MS, idle);
        // The client cannot answer our close frame from inside a frame; don't wait long for it.
        s.getUserProperties().put(Constants.SESSION_CLOSE_TIMEOUT_PROPERTY, Math.min(idle, 5_000L));
        // Tomcat checks idleness every processPeriod seconds (10 by default): make it every second so
        // the timeout holds to within a second.
        if (s.getContainer() instanceof WsWebSocketContainer c && c.getProcessPeriod() != 1) c.setProcessPeriod(1);
    }

    private void pingAll() {
        try {
            sessions.values().forEach(s -> s.sender.ping());
        } catch (RuntimeException e) {
            log.warn("pinging chat sockets failed", e);
        }
    }

    @PreDestroy
    void stopPinging() {
        pinger.shutdownNow();
    }

    @Override
    protected void handleTextMessage(WebSocketSession ws, TextMessage message) {
        Session session = sessions.get(ws.getId());
        if (session == null) return;
        if (!session.discarding) {
            String piece = message.getPayload();
            session.partialBytes += utf8Length(piece);
            if (session.partialBytes > limits.maxMessageBytes()) {
                session.partial.setLength(0);
                session.partial.trimToSize();
                session.discarding = true;
            } else {
                session.partial.append(piece);
            }
        }
        if (!message.isLast()) return;
        session.partialBytes = 0;
        if (session.discarding) {
            session.discarding = false;
            session.connection.sendError(null, ChatRejection.MESSAGE_TOO_LARGE, "the frame is larger than "
                    + limits.maxMessageBytes() + " bytes (qwen.web.max-message-bytes); shorten the conversation or start a new chat");
            return;
        }
        String text = session.partial.toString();
        session.partial.setLength(0);
        ClientFrame frame;
        try {
            JsonNode tree = json.readTree(text);
            if (tree == null || tree.isMissingNode() || tree.isNull()) {
                session.connection.sendError(null, ChatRejection.INVALID_REQUEST, "the frame is empty");
                return;
            }
            // Every string first, so no later error message can echo a lone surrogate back.
            InputText.wellFormedTree(tree);
            frame = json.treeToValue(tree, ClientFrame.class);
        } catch (JacksonException e) {
            log.debug("chat socket {}: unreadable frame: {}", ws.getId(), e.getMessage());
            session.connection.sendError(null, ChatRejection.INVALID_REQUEST,
                    "the frame is not valid JSON for this protocol: " + JsonProblems.describe(e));
            return;
        } catch (InvalidTextException e) {
            session.connection.sendError(null, ChatRejection.INVALID_REQUEST, e.getMessage());
            return;
        }
        session.connection.onFrame(frame);
    }

    /**
     * The protocol is text only; a binary frame is refused like any other bad frame (an {@code error}
     * frame), and the socket stays open. Its pieces are dropped as they come, so a large one costs no memory.
     */
    @Override
    protected void handleBinaryMessage(WebSocketSession ws, BinaryMessage message) {
        Session session = sessions.get(ws.getId());
        if (session == null || !message.isLast()) return;
        session.connection.sendError(null, ChatRejection.INVALID_REQUEST,
                "binary frames are not part of this protocol; send JSON text frames");
    }

    private static int utf8Length(CharSequence s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            n += c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isSurrogate(c) ? 2 : 3;
        }
        return n;
    }

    @Override
    public void handleTransportError(WebSocketSession ws, Throwable exception) {
        log.debug("chat socket {} transport error: {}", ws.getId(), exception.toString());
    }

    @Override
    public void afterConnectionClosed(WebSocketSession ws, CloseStatus status) {
        Session session = sessions.get(ws.getId());
        if (session == null) return;
        session.connection.close();
        if (session.statusSubscription != null) {
            try {
                session.statusSubscription.close();
            } catch (Exception e) {
                log.debug("unsubscribing {} from status failed: {}", ws.getId(), e.toString());
            }
        }
        // Forgotten last, so that openSessions() counts a socket until everything it held is released.
        sessions.remove(ws.getId());
    }

    /** Open sockets, for tests and metrics. */
    public int openSessions() {
        return sessions.size();
    }
}
