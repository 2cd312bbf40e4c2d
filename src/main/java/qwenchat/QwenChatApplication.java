package qwenchat;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.security.autoconfigure.UserDetailsServiceAutoConfiguration;
import qwenchat.cli.Cli;

/**
 * Entry point. {@code java -jar qwen-chat.jar} starts the server; a first argument naming a CLI
 * command ({@code tokenize}, {@code chat-template}, {@code generate}, {@code bench}, ...) runs
 * that command instead, without starting Spring.
 */
// No user store: every credential is a bearer token checked by qwenchat.security, and Boot's
// default user would print a generated password nobody can use.
@SpringBootApplication(exclude = UserDetailsServiceAutoConfiguration.class)
public class QwenChatApplication {

    public static void main(String[] args) {
        if (args.length > 0 && Cli.isCommand(args[0])) {
            System.exit(Cli.run(args, System.in, System.out, System.err));
        }
        SpringApplication.run(QwenChatApplication.class, args);
    }
}
