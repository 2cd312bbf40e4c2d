package qwenchat.hub;

/** Download progress over all files of a model: bytes of the whole download, and the file now being fetched. */
@FunctionalInterface
public interface DownloadProgress {

    DownloadProgress NONE = (file, bytesDone, bytesTotal) -> { };

    void progress(String file, long bytesDone, long bytesTotal);
}
