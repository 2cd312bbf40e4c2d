package qwenchat.files;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import org.apache.pdfbox.Loader;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.encryption.InvalidPasswordException;
import org.apache.pdfbox.text.PDFTextStripper;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code POST /api/files/pdf-text}: the text of a PDF the chat page attaches to a message. A
 * browser has no PDF parser of its own that the CSP would allow, so this one step runs here; the
 * text then goes into the message like any attached text file. Who may call it is decided in
 * {@code qwenchat.security} (open like the chat, unless the chat is protected).
 *
 * <p>Bounded on every side, since anyone who may chat may call it: the body is read up to
 * {@link #MAX_BYTES}, at most {@link #MAX_PAGES} pages are read, and the text is cut at
 * {@link #MAX_CHARS} (the page refuses attachments that long anyway). Refusals are
 * {@code {"error": {"code", "message"}}} with a code the page translates.
 */
@RestController
public class PdfTextController {

    static final int MAX_BYTES = 20 * 1024 * 1024;
    static final int MAX_PAGES = 300;
    static final int MAX_CHARS = 1_000_000;

    @PostMapping(path = "/api/files/pdf-text", consumes = {MediaType.APPLICATION_PDF_VALUE, MediaType.APPLICATION_OCTET_STREAM_VALUE})
    public ResponseEntity<Map<String, Object>> text(InputStream body) throws IOException {
        byte[] bytes = body.readNBytes(MAX_BYTES + 1);
        if (bytes.length > MAX_BYTES) {
            return refuse(HttpStatus.CONTENT_TOO_LARGE, "too_large", "the PDF is larger than " + (MAX_BYTES >> 20) + " MiB");
        }
        try (PDDocument doc = Loader.loadPDF(bytes)) {
            PDFTextStripper stripper = new PDFTextStripper();
            stripper.setSortByPosition(true);
            stripper.setEndPage(MAX_PAGES);
            String text = stripper.getText(doc).strip();
            boolean cut = text.length() > MAX_CHARS;
            return ResponseEntity.ok(Map.of("text", cut ? text.substring(0, MAX_CHARS) : text,
                    "pages", doc.getNumberOfPages(), "truncated", cut || doc.getNumberOfPages() > MAX_PAGES));
        } catch (InvalidPasswordException e) {
            return refuse(HttpStatus.BAD_REQUEST, "pdf_encrypted", "the PDF is password-protected");
        } catch (IOException e) {
            // PDFBox's message can name internals; the client learns only that the file is not a readable PDF.
            return refuse(HttpStatus.BAD_REQUEST, "not_a_pdf", "not a readable PDF");
        }
    }

    private static ResponseEntity<Map<String, Object>> refuse(HttpStatus status, String code, String message) {
        return ResponseEntity.status(status).body(Map.of("error", Map.of("code", code, "message", message)));
    }
}
