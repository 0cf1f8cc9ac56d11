package kz.qamqor.validators;

import eu.europa.esig.dss.enumerations.Indication;
import eu.europa.esig.dss.enumerations.SubIndication;
import eu.europa.esig.dss.jaxb.object.Message;
import eu.europa.esig.dss.model.FileDocument;
import eu.europa.esig.dss.pades.validation.PDFDocumentValidator;
import eu.europa.esig.dss.service.crl.OnlineCRLSource;
import eu.europa.esig.dss.service.http.commons.CommonsDataLoader;
import eu.europa.esig.dss.service.http.commons.OCSPDataLoader;
import eu.europa.esig.dss.service.ocsp.OnlineOCSPSource;
import eu.europa.esig.dss.simplereport.SimpleReport;
import eu.europa.esig.dss.simplereport.jaxb.XmlTimestamp;
import eu.europa.esig.dss.spi.DSSUtils;
import eu.europa.esig.dss.spi.validation.CommonCertificateVerifier;
import eu.europa.esig.dss.spi.x509.CommonTrustedCertificateSource;
import eu.europa.esig.dss.validation.reports.Reports;

import java.io.File;
import java.io.PrintStream;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;

/**
 * {@code dss}: EU DSS's PAdES validation (ETSI EN 319 102-1, DSS's default XML policy) of each file, with
 * only the given roots as trust anchors.
 *
 * <p>Offline by default: no AIA, OCSP or CRL fetching, so a verdict rests on what the PDF carries (its CMS
 * certificates, the DSS dictionary's OCSP responses and CRLs). {@code --online} lets DSS fetch revocation
 * data itself from the URLs in the certificates: B-B and B-T signatures carry none, and without it DSS cannot
 * say more than INDETERMINATE for them. The tests point those URLs at 127.0.0.1.
 *
 * <p>Exit code 0 when every file has at least one signature and every signature is TOTAL_PASSED and each of
 * its timestamps PASSED, 1 otherwise.
 */
final class DssCommand {

    private DssCommand() {
    }

    static int run(List<String> args, PrintStream out) {
        List<File> files = new ArrayList<>();
        List<File> roots = new ArrayList<>();
        Date at = null;
        boolean online = false;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            switch (a) {
                case "--trust" -> roots.add(existing(value(args, ++i, a)));
                case "--at" -> at = parseTime(value(args, ++i, a));
                case "--online" -> online = true;
                default -> {
                    if (a.startsWith("--")) {
                        throw new Main.UsageException("unknown option " + a);
                    }
                    files.add(existing(a));
                }
            }
        }
        if (files.isEmpty()) {
            throw new Main.UsageException("dss: no PDF given");
        }
        if (roots.isEmpty()) {
            throw new Main.UsageException("dss: at least one --trust ROOT.pem is needed");
        }

        CommonTrustedCertificateSource trusted = new CommonTrustedCertificateSource();
        for (File root : roots) {
            trusted.addCertificate(DSSUtils.loadCertificate(root));
        }

        boolean allPassed = true;
        List<Object> reports = Json.array();
        for (File file : files) {
            Map<String, Object> report = Json.object();
            report.put("file", file.getPath());
            try {
                // A fresh verifier per file: DSS keeps fetched and extracted tokens in it.
                PDFDocumentValidator validator = new PDFDocumentValidator(new FileDocument(file));
                validator.setCertificateVerifier(verifier(trusted, online));
                if (at != null) {
                    validator.setValidationTime(at);
                }
                Reports result = validator.validateDocument();
                allPassed &= describe(result.getSimpleReport(), report);
            } catch (RuntimeException | LinkageError e) {
                report.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
                report.put("passed", false);
                allPassed = false;
            }
            reports.add(report);
        }
        Map<String, Object> top = Json.object();
        top.put("validator", "EU DSS " + Main.version("dss"));
        top.put("online", online);
        top.put("validationTime", at);
        top.put("files", reports);
        top.put("passed", allPassed);
        out.println(Json.write(top));
        return allPassed ? 0 : 1;
    }

    private static CommonCertificateVerifier verifier(CommonTrustedCertificateSource trusted,
                                                      boolean online) {
        // simpleCreationOnly=true: no default AIA source, so nothing is fetched unless --online says so.
        CommonCertificateVerifier cv = new CommonCertificateVerifier(true);
        cv.setTrustedCertSources(trusted);
        cv.setAIASource(null);
        if (online) {
            cv.setOcspSource(new OnlineOCSPSource(new OCSPDataLoader()));
            cv.setCrlSource(new OnlineCRLSource(new CommonsDataLoader()));
        } else {
            cv.setOcspSource(null);
            cv.setCrlSource(null);
        }
        return cv;
    }

    /** Fills {@code report} from DSS's simple report; true when everything in it passed. */
    private static boolean describe(SimpleReport simple, Map<String, Object> report) {
        boolean passed = !simple.getSignatureIdList().isEmpty();
        List<Object> signatures = Json.array();
        for (String id : simple.getSignatureIdList()) {
            Map<String, Object> sig = Json.object();
            Indication indication = simple.getIndication(id);
            sig.put("id", id);
            sig.put("indication", indication);
            sig.put("subIndication", name(simple.getSubIndication(id)));
            sig.put("signatureFormat", simple.getSignatureFormat(id));
            sig.put("signingTime", simple.getSigningTime(id));
            sig.put("bestSignatureTime", simple.getBestSignatureTime(id));
            sig.put("signedBy", simple.getSignedBy(id));
            sig.put("errors", messages(simple.getAdESValidationErrors(id)));
            sig.put("warnings", messages(simple.getAdESValidationWarnings(id)));
            passed &= indication == Indication.TOTAL_PASSED;
            // the signature timestamp and, at B-LTA, the document timestamps that cover the signature
            List<Object> timestamps = Json.array();
            for (XmlTimestamp ts : simple.getSignatureTimestamps(id)) {
                timestamps.add(timestamp(simple, ts.getId()));
                passed &= passedTimestamp(simple.getIndication(ts.getId()));
            }
            sig.put("timestamps", timestamps);
            signatures.add(sig);
        }
        // timestamps that cover no signature (a document timestamp alone)
        List<Object> timestamps = Json.array();
        for (String id : simple.getTimestampIdList()) {
            timestamps.add(timestamp(simple, id));
            passed &= passedTimestamp(simple.getIndication(id));
        }
        report.put("signatures", signatures);
        report.put("timestamps", timestamps);
        report.put("passed", passed);
        return passed;
    }

    private static Map<String, Object> timestamp(SimpleReport simple, String id) {
        Map<String, Object> ts = Json.object();
        ts.put("id", id);
        ts.put("indication", simple.getIndication(id));
        ts.put("subIndication", name(simple.getSubIndication(id)));
        ts.put("productionTime", simple.getProductionTime(id));
        ts.put("producedBy", simple.getProducedBy(id));
        ts.put("errors", messages(simple.getAdESValidationErrors(id)));
        return ts;
    }

    private static boolean passedTimestamp(Indication indication) {
        return indication == Indication.PASSED || indication == Indication.TOTAL_PASSED;
    }

    private static List<Object> messages(List<Message> messages) {
        List<Object> out = Json.array();
        for (Message m : messages) {
            Map<String, Object> o = Json.object();
            o.put("key", m.getKey());
            o.put("value", m.getValue());
            out.add(o);
        }
        return out;
    }

    private static String name(SubIndication sub) {
        return sub == null ? null : sub.name();
    }

    static String value(List<String> args, int i, String option) {
        if (i >= args.size()) {
            throw new Main.UsageException(option + " needs a value");
        }
        return args.get(i);
    }

    static File existing(String path) {
        File f = new File(path);
        if (!f.isFile()) {
            throw new Main.UsageException("no such file: " + path);
        }
        return f;
    }

    private static Date parseTime(String text) {
        try {
            return Date.from(OffsetDateTime.parse(text).toInstant());
        } catch (DateTimeParseException e) {
            throw new Main.UsageException(
                    "--at wants an ISO date-time with an offset (2031-01-01T00:00:00Z): " + text);
        }
    }
}
