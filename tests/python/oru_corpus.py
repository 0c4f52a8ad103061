"""A corpus of ORU^R01 messages with hl7apy's reading of their observations.

  oru_corpus.py <directory> [count]

writes <count> (default 200) messages as <name>.hl7 and, for each, <name>.json: the list of
observations as hl7apy reads the message, one per OBX in message order:

  {"group": OBR index (0-based), "set_id", "type", "code", "values": [...], "units", "range",
   "flags": [...], "status", "notes": [...]}

The messages vary as labs send them: every value type Haven reads (NM with and without a
comparator, SN with one number or a ratio or range, ST, TX, FT, CE, CWE), repeated OBX-5,
escape sequences in values and notes, NTEs after an OBR and after an OBX, an ORC before some
OBRs, several OBR groups, Z-segments between segments, and CR, LF, CRLF or MLLP framing.

hl7apy reads the segments (`hl7_corpus.cells`: every subcomponent, unescaped per HL7 v2.5
section 2.7); this script only groups what it read. Values are written the way
shared/labs-core/src/oru.rs documents its reading, so both sides can be compared as text:
NM and SN as their components run together without spaces (`<5`, `1:128`); ST, TX and FT as
the repetition's components joined by `^` and subcomponents by `&`, trailing empty parts
dropped; CE and CWE as `code^text^system`, trailing empty parts dropped. Consumed by
shared/labs-core/tests/independent.rs.
"""
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from hl7_corpus import cells  # noqa: E402

CODES = [("2823-3", "Potassium"), ("2951-2", "Sodium"), ("718-7", "Hemoglobin"),
         ("2345-7", "Glucose"), ("2160-0", "Creatinine"), ("6690-2", "WBC"),
         ("600-7", "Blood culture"), ("70569-9", "Malaria RDT"), ("5196-1", "HBsAg")]
UNITS = ["mmol/L", "g/dL", "mg/dL", "10*3/uL", "%", "{ratio}", ""]
RANGES = ["3.5-5.1", "135-145", "<200", ">60", "negative", "12.0 - 16.0", ""]
FLAGS = ["L", "H", "LL", "HH", "<", ">", "N", "A", "AA", "POS", "NEG", "S", "R", "I"]
STATUS = ["F", "F", "F", "P", "C", "D", "W", "R", "S", "U", "X", "I"]
TEXTS = ["positive", "no growth after 48h", "see note \\F\\ repeat", "Na\\S\\K ratio",
         "a \\T\\ b", "path C:\\E\\lab", "caf\\XC3A9\\", "two\\R\\parts", "50% haemolysed",
         "line one\\.br\\line two", "\\H\\bold\\N\\ text", "a^b unescaped", "x&y unescaped"]
CODED = ["260373001^Detected^SCT", "260415000^Not detected^SCT", "POS^Positive^L",
         "3092008^Staphylococcus aureus^SCT", "^Free text only", "NEG"]
NOTES = ["Sample haemolysed", "Phoned to ward \\F\\ Dr Otieno", "Repeat in 2/52",
         "Na\\S\\K panel", "C:\\E\\results", "ÄÖÜ ok", "first~second line"]
ZSEG = ["ZLB|1|internal^code|x\\T\\y", "ZQC|pass|lot 42~lot 43", "ZZ9|||"]


def nm(rng):
    number = rng.choice(["5.4", "13.2", "-0.5", "0", "450", "6.80", ".5", "12."])
    comparator = rng.choice(["", "", "", "<", ">", "<=", ">="])
    return comparator + (" " if comparator and rng.random() < 0.2 else "") + number


def sn(rng):
    return rng.choice(["<^5", ">=^10", "^1^:^128", "^10^-^20", "^2^/^3", "=^7.5", "^42"])


def value(rng, kind):
    if kind == "NM":
        return nm(rng)
    if kind == "SN":
        return sn(rng)
    if kind in ("ST", "TX", "FT"):
        return rng.choice(TEXTS)
    return rng.choice(CODED)


def obx(rng, set_id):
    kind = rng.choice(["NM", "NM", "SN", "ST", "TX", "FT", "CE", "CWE"])
    code, name = rng.choice(CODES)
    repeats = rng.randint(2, 3) if kind in ("ST", "CWE", "CE") and rng.random() < 0.3 else 1
    values = "~".join(value(rng, kind) for _ in range(repeats))
    flags = "~".join(rng.sample(FLAGS, rng.choice([0, 0, 1, 1, 2])))
    units = rng.choice(UNITS)
    fields = [str(set_id), kind, "%s^%s^LN" % (code, name), rng.choice(["", "", "1", "2"]),
              values, ("%s^%s^UCUM" % (units, units)) if units and rng.random() < 0.5 else units,
              rng.choice(RANGES), flags, "", "", rng.choice(STATUS), "", "",
              rng.choice(["", "20261206094500"])]
    while fields and fields[-1] == "":
        fields.pop()
    return "OBX|" + "|".join(fields)


def message(rng, n):
    lines = ["MSH|^~\\&|LIS|KNH|HAVEN|KNH|20261206%06d||ORU^R01^ORU_R01|ORU-%04d|P|2.5"
             % (rng.randint(0, 235959), n),
             "PID|1||%06d^^^KNH^MR~%08d^^^KEN^NI||Otieno^Akinyi" % (n, rng.randint(0, 99999999))]
    if rng.random() < 0.3:
        lines.append(rng.choice(ZSEG))
    for g in range(rng.randint(1, 3)):
        if rng.random() < 0.4:
            lines.append("ORC|RE|ORD-%d-%d|F-%d" % (n, g, g))
        code, name = rng.choice(CODES)
        lines.append("OBR|%d|ORD-%d-%d|LAB-%d|%s^%s^LN|||20261206080000" % (g + 1, n, g, g, code, name))
        if rng.random() < 0.3:
            lines.append("NTE|1||" + rng.choice(NOTES))
        for k in range(rng.randint(1, 6)):
            lines.append(obx(rng, k + 1))
            if rng.random() < 0.3:
                lines.append("NTE|%d|L|%s" % (k + 1, rng.choice(NOTES)))
            if rng.random() < 0.1:
                lines.append(rng.choice(ZSEG))
    return lines


def whole(parts):
    """A repetition's components (each a list of subcomponents) as one text."""
    texts = []
    for subs in parts:
        while subs and subs[-1] == "":
            subs = subs[:-1]
        texts.append("&".join(subs))
    while texts and texts[-1] == "":
        texts.pop()
    return "^".join(texts)


def fields_of(segment_cells):
    """{field: [repetition: [component: [subcomponent text]]]} from hl7apy's cells."""
    out = {}
    for cell in segment_cells:
        _, _, field, rep, comp, text = cell[:6]
        sub = cell[6] if len(cell) > 6 else 1
        reps = out.setdefault(field, {})
        comps = reps.setdefault(rep, {})
        subs = comps.setdefault(comp, {})
        subs[sub] = text
    shaped = {}
    for field, reps in out.items():
        shaped[field] = []
        for r in sorted(reps):
            comps = reps[r]
            width = max(comps)
            row = []
            for c in range(1, width + 1):
                subs = comps.get(c, {})
                row.append([subs.get(s, "") for s in range(1, max(subs or {1: ""}) + 1)])
            shaped[field].append(row)
    return shaped


def first(fields, n, c=1):
    reps = fields.get(n, [])
    if not reps or len(reps[0]) < c or not reps[0][c - 1]:
        return None
    text = reps[0][c - 1][0]
    return text or None


def observations(text):
    by_segment = []
    for cell in cells(text):
        key = (cell[0], cell[1])
        if not by_segment or by_segment[-1][0] != key:
            by_segment.append((key, []))
        by_segment[-1][1].append(cell)
    out, group = [], -1
    last = None
    for (name, _), seg_cells in by_segment:
        f = fields_of(seg_cells)
        if name == "OBR":
            group += 1
            last = None
        elif name == "OBX":
            kind = first(f, 2)
            values = []
            for rep in f.get(5, []):
                if kind in ("NM", "SN"):
                    values.append("".join(s[0] if s else "" for s in rep).replace(" ", ""))
                else:
                    values.append(whole(rep))
            values = [v for v in values if v != ""]
            last = {
                "group": group,
                "set_id": first(f, 1),
                "type": kind,
                "code": first(f, 3),
                "values": values,
                "units": first(f, 6),
                "range": whole(f[7][0]) if f.get(7) else None,
                "flags": [r[0][0] for r in f.get(8, []) if r and r[0] and r[0][0]],
                "status": first(f, 11),
                "notes": [],
            }
            out.append(last)
        elif name == "NTE" and last is not None:
            last["notes"].extend(whole(rep) for rep in f.get(3, []))
    return out


def main():
    directory = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(8590)
    for n in range(count):
        lines = message(rng, n)
        text = "\r".join(lines) + "\r"
        wire = ["\r", "\n", "\r\n", "mllp"][n % 4]
        if wire == "mllp":
            data = b"\x0b" + text.encode("utf-8") + b"\x1c\x0d"
        else:
            data = (wire.join(lines) + wire).encode("utf-8")
        name = "oru_%03d" % n
        (directory / (name + ".hl7")).write_bytes(data)
        (directory / (name + ".json")).write_text(
            json.dumps(observations(text), ensure_ascii=False))
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
