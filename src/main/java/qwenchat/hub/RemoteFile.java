package qwenchat.hub;

/**
 * A file of a hub repository as the hub describes it.
 *
 * @param size bytes, or -1 when the hub did not say
 * @param sha256 lowercase hex of the content, or null when unknown (LFS files carry it)
 * @param gitBlobSha1 the git blob id (hub ETag of a non-LFS file), or null when unknown
 */
record RemoteFile(String name, long size, String sha256, String gitBlobSha1) {

    boolean sizeKnown() {
        return size >= 0;
    }

    /** This description with the gaps filled from {@code other}. */
    RemoteFile orElse(RemoteFile other) {
        return new RemoteFile(name, size >= 0 ? size : other.size, sha256 != null ? sha256 : other.sha256,
                gitBlobSha1 != null ? gitBlobSha1 : other.gitBlobSha1);
    }
}
