package qwenchat.presets;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Replaces a file so that a reader (or a restart after a crash) sees either the old or the new
 * content, never a torn mix: write a temp file in the same directory, fsync it, rename it over the
 * target, then fsync the directory so the rename itself survives a power cut.
 */
public class AtomicFileWriter {

    /** Runs between the fsync of the temp file and the rename; tests make it throw to simulate a crash. */
    @FunctionalInterface
    public interface BeforeRename {
        void run(Path tempFile) throws IOException;
    }

    private final BeforeRename beforeRename;

    public AtomicFileWriter() {
        this(temp -> { });
    }

    public AtomicFileWriter(BeforeRename beforeRename) {
        this.beforeRename = beforeRename;
    }

    public void write(Path target, byte[] content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = dir.resolve(target.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(content);
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
        beforeRename.run(temp);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + dir + " cannot rename atomically", e);
        }
        syncDirectory(dir);
    }

    private static void syncDirectory(Path dir) {
        // Not every platform lets a directory be opened for fsync; the rename is still atomic there.
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort
        }
    }
}
