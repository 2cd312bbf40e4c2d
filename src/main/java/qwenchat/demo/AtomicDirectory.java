package qwenchat.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Creates a generated directory exactly once: its files are written into a sibling temporary
 * directory that is then renamed into place, so a reader never sees a half-written directory and
 * concurrent creators (threads or processes) are safe: the loser of the rename discards its copy.
 * A directory counts as present once it holds {@code config.json}.
 */
final class AtomicDirectory {

    @FunctionalInterface
    interface Writer {
        void write(Path dir) throws IOException;
    }

    private AtomicDirectory() {
    }

    static void create(Path dir, Writer writer) {
        if (Files.isRegularFile(dir.resolve("config.json"))) return;
        try {
            Path parent = dir.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            Path tmp = Files.createTempDirectory(parent, dir.getFileName() + ".tmp-");
            try {
                writer.write(tmp);
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new UncheckedIOException("cannot rename " + tmp + " to " + dir + " atomically", e);
            } catch (FileSystemException e) {
                // Linux reports a rename onto the winner's non-empty directory as a plain
                // FileSystemException (ENOTEMPTY); the winner wrote the same files.
                if (!Files.isRegularFile(dir.resolve("config.json"))) throw e;
            } finally {
                deleteTree(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
        }
    }
}
