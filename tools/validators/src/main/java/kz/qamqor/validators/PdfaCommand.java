package kz.qamqor.validators;

import org.verapdf.gf.foundry.VeraGreenfieldFoundryProvider;
import org.verapdf.pdfa.Foundries;
import org.verapdf.pdfa.PDFAParser;
import org.verapdf.pdfa.PDFAValidator;
import org.verapdf.pdfa.VeraPDFFoundry;
import org.verapdf.pdfa.flavours.PDFAFlavour;
import org.verapdf.pdfa.results.TestAssertion;
import org.verapdf.pdfa.results.ValidationResult;
import org.verapdf.pdfa.validation.profiles.RuleId;

import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code pdfa}: veraPDF's PDF/A validation (greenfield parser, the rules of the flavour each file claims in
 * its XMP {@code pdfaid}, or {@code --flavour}) of each file.
 *
 * <p>A file that claims no PDF/A flavour is validated as 3b (what qamqor's documents claim) and reported with
 * {@code "claimed": null}, so a lost claim shows in the report. Exit code 0 when every file is compliant.
 */
final class PdfaCommand {

    private static final PDFAFlavour DEFAULT_FLAVOUR = PDFAFlavour.PDFA_3_B;

    private PdfaCommand() {
    }

    static int run(List<String> args, PrintStream out) {
        List<File> files = new ArrayList<>();
        PDFAFlavour forced = null;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--flavour")) {
                String id = DssCommand.value(args, ++i, a);
                forced = PDFAFlavour.byFlavourId(id);
                if (forced == PDFAFlavour.NO_FLAVOUR) {
                    throw new Main.UsageException("unknown PDF/A flavour " + id + " (1b, 2b, 3b, 4, ...)");
                }
            } else if (a.startsWith("--")) {
                throw new Main.UsageException("unknown option " + a);
            } else {
                files.add(DssCommand.existing(a));
            }
        }
        if (files.isEmpty()) {
            throw new Main.UsageException("pdfa: no PDF given");
        }

        VeraGreenfieldFoundryProvider.initialise();
        boolean allCompliant = true;
        List<Object> reports = Json.array();
        try (VeraPDFFoundry foundry = Foundries.defaultInstance()) {
            for (File file : files) {
                Map<String, Object> report = Json.object();
                report.put("file", file.getPath());
                try {
                    allCompliant &= validate(foundry, file, forced, report);
                } catch (Exception e) {
                    report.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
                    report.put("compliant", false);
                    allCompliant = false;
                }
                reports.add(report);
            }
        } catch (Exception e) {
            throw new IllegalStateException("veraPDF foundry: " + e.getMessage(), e);
        }
        Map<String, Object> top = Json.object();
        top.put("validator", "veraPDF " + Main.version("verapdf"));
        top.put("files", reports);
        top.put("compliant", allCompliant);
        out.println(Json.write(top));
        return allCompliant ? 0 : 1;
    }

    private static boolean validate(VeraPDFFoundry foundry, File file, PDFAFlavour forced,
                                    Map<String, Object> report) throws Exception {
        PDFAFlavour claimed;
        try (InputStream in = new FileInputStream(file); PDFAParser parser = foundry.createParser(in)) {
            claimed = parser.getFlavour();
        }
        if (claimed == PDFAFlavour.NO_FLAVOUR) {
            claimed = null;
        }
        PDFAFlavour flavour = forced != null ? forced : claimed != null ? claimed : DEFAULT_FLAVOUR;
        ValidationResult result;
        try (InputStream in = new FileInputStream(file);
             PDFAParser parser = foundry.createParser(in, flavour);
             PDFAValidator validator = foundry.createValidator(flavour, false)) {
            result = validator.validate(parser);
        }
        // One entry per failed rule, with how many times it failed: a rule fails once per offending object.
        Map<String, Map<String, Object>> failed = new LinkedHashMap<>();
        for (TestAssertion assertion : result.getTestAssertions()) {
            if (assertion.getStatus() != TestAssertion.Status.FAILED) {
                continue;
            }
            RuleId rule = assertion.getRuleId();
            String id = rule.getClause() + "-" + rule.getTestNumber();
            Map<String, Object> entry = failed.computeIfAbsent(id, k -> {
                Map<String, Object> o = Json.object();
                o.put("id", k);
                o.put("specification", rule.getSpecification().getId());
                o.put("clause", rule.getClause());
                o.put("testNumber", rule.getTestNumber());
                o.put("description", assertion.getMessage().trim().replaceAll("\\s+", " "));
                o.put("context", assertion.getLocation() == null ? null
                        : assertion.getLocation().getContext());
                o.put("count", 0);
                return o;
            });
            entry.put("count", (Integer) entry.get("count") + 1);
        }
        report.put("claimed", claimed == null ? null : claimed.getId());
        report.put("flavour", flavour.getId());
        report.put("compliant", result.isCompliant());
        report.put("failedRules", new ArrayList<Object>(failed.values()));
        return result.isCompliant();
    }
}
