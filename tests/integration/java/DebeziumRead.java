// Reads kafkaops' events the way a Kafka Connect pipeline with Debezium's SMTs does, and prints what
// it sees. Run by tests/integration/test_produce_debezium.py (compiled into a temporary folder).
//
// Arguments: a file with one event a line, "<key JSON>\t<value JSON>" (as read from the topic), the
// topic, and schemas.enable (true/false). For each event: JsonConverter.toConnectData on key and value,
// then io.debezium.transforms.ExtractNewRecordState. Output: one JSON line per event:
// {"schemas": bool, "key": <key as read>, "value_schema": <name or null>, "unwrapped": bool,
//  "row": <the record value after the SMT>}; Connect values are rendered as JSON: a Decimal and a
// VariableScaleDecimal as their plain decimal text, bytes as base64. An exception fails the run (exit 1).

import com.fasterxml.jackson.databind.ObjectMapper;
import io.debezium.data.VariableScaleDecimal;
import io.debezium.transforms.ExtractNewRecordState;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;

public class DebeziumRead {
    static Object render(Schema schema, Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof BigDecimal) {
            return ((BigDecimal) value).toPlainString();
        }
        if (schema != null && VariableScaleDecimal.LOGICAL_NAME.equals(schema.name())) {
            return VariableScaleDecimal.toLogical((Struct) value).getDecimalValue().map(BigDecimal::toPlainString).orElse(null);
        }
        if (value instanceof byte[]) {
            return Base64.getEncoder().encodeToString((byte[]) value);
        }
        if (value instanceof ByteBuffer) {
            ByteBuffer b = ((ByteBuffer) value).duplicate();
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return Base64.getEncoder().encodeToString(out);
        }
        if (value instanceof Struct) {
            Struct s = (Struct) value;
            Map<String, Object> out = new LinkedHashMap<>();
            for (Field f : s.schema().fields()) {
                out.put(f.name(), render(f.schema(), s.get(f)));
            }
            return out;
        }
        if (value instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                out.put(String.valueOf(e.getKey()), render(null, e.getValue()));
            }
            return out;
        }
        if (value instanceof List) {
            List<Object> out = new ArrayList<>();
            for (Object o : (List<?>) value) {
                out.add(render(null, o));
            }
            return out;
        }
        return value;
    }

    public static void main(String[] args) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        List<String> lines = Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8);
        String topic = args[1];
        boolean schemas = Boolean.parseBoolean(args[2]);
        {
            JsonConverter keys = new JsonConverter();
            keys.configure(Map.of("schemas.enable", schemas), true);
            JsonConverter values = new JsonConverter();
            values.configure(Map.of("schemas.enable", schemas), false);
            ExtractNewRecordState<SourceRecord> unwrap = new ExtractNewRecordState<>();
            unwrap.configure(Map.of());
            for (String line : lines) {
                String[] kv = line.split("\t", 2);
                SchemaAndValue k = keys.toConnectData(topic, kv[0].getBytes(StandardCharsets.UTF_8));
                SchemaAndValue v = values.toConnectData(topic, kv[1].getBytes(StandardCharsets.UTF_8));
                SourceRecord in = new SourceRecord(null, null, topic, 0, k.schema(), k.value(), v.schema(), v.value());
                SourceRecord out = unwrap.apply(in);
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("schemas", schemas);
                report.put("key", render(out.keySchema(), out.key()));
                report.put("value_schema", v.schema() == null ? null : v.schema().name());
                report.put("unwrapped", out.value() != in.value());
                report.put("row", render(out.valueSchema(), out.value()));
                System.out.println(mapper.writeValueAsString(report));
            }
            unwrap.close();
        }
    }
}
