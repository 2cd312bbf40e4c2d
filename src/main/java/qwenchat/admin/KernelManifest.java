package qwenchat.admin;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * What {@code /kernels/kernels.properties} (written by build-kernels.sh) says about the CUDA
 * kernels in this build.
 *
 * @param sources the .cu files compiled into the fatbin
 * @param detail the nvcc version, or why there are no kernels
 */
public record KernelManifest(boolean available, List<String> sources, String detail) {

    static final String RESOURCE = "/kernels/kernels.properties";

    static KernelManifest load() {
        try (InputStream in = KernelManifest.class.getResourceAsStream(RESOURCE)) {
            if (in == null) return new KernelManifest(false, List.of(), RESOURCE + " is not on the classpath");
            Properties p = new Properties();
            p.load(in);
            boolean available = Boolean.parseBoolean(p.getProperty("available", "false"));
            String sources = p.getProperty("sources", "");
            List<String> names = sources.isBlank() ? List.of() : Arrays.stream(sources.split(",")).map(String::trim).toList();
            return new KernelManifest(available, names,
                    available ? p.getProperty("nvcc", "") : p.getProperty("reason", "no reason given"));
        } catch (IOException e) {
            return new KernelManifest(false, List.of(), RESOURCE + ": " + e.getMessage());
        }
    }
}
