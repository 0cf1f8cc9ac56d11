package kz.qamqor.validators;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * The command line of qamqor's reference validators (issue 12, #12.5): second opinions for the tests.
 *
 * <pre>
 *   java -jar validators.jar dss FILE.pdf [FILE...] --trust ROOT.pem [--trust ...] [--at ISO] [--online]
 *   java -jar validators.jar pdfa FILE.pdf [FILE...] [--flavour 3b]
 * </pre>
 *
 * Each prints one JSON object on stdout and exits 0 when every file passes, 1 when one does not, 2 on a usage
 * error, 3 when the validator itself broke. Several files go in one invocation because starting a JVM with
 * DSS or veraPDF costs seconds.
 */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        // Both libraries log through SLF4J; their INFO lines are noise on the tests' stderr.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                    System.getenv().getOrDefault("VALIDATORS_LOG", "error"));
        }
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (args.length == 0) {
            usage("no command");
            System.exit(2);
        }
        List<String> rest = Arrays.asList(args).subList(1, args.length);
        int code;
        try {
            switch (args[0]) {
                case "dss" -> code = DssCommand.run(rest, out);
                case "pdfa" -> code = PdfaCommand.run(rest, out);
                case "-h", "--help", "help" -> {
                    usage(null);
                    code = 0;
                }
                default -> {
                    usage("unknown command " + args[0]);
                    code = 2;
                }
            }
        } catch (UsageException e) {
            usage(e.getMessage());
            code = 2;
        } catch (RuntimeException | LinkageError e) {
            // a broken build or classpath rather than a verdict on a file: no JSON, a stack trace, exit 3
            e.printStackTrace();
            code = 3;
        }
        out.flush();
        System.exit(code);
    }

    static void usage(String problem) {
        if (problem != null) {
            System.err.println("validators: " + problem);
        }
        System.err.println("usage: validators dss FILE.pdf [FILE...] --trust ROOT.pem [--trust ...]"
                + " [--at ISO-DATETIME] [--online]");
        System.err.println("       validators pdfa FILE.pdf [FILE...] [--flavour 3b]");
    }

    /** The version of a validator library, as the build recorded it (versions.properties). */
    static String version(String library) {
        java.util.Properties p = new java.util.Properties();
        try (java.io.InputStream in = Main.class.getResourceAsStream("versions.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (java.io.IOException e) {
            return "?";
        }
        return p.getProperty(library, "?");
    }

    /** A wrong command line: the message goes to stderr with the usage, exit code 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
