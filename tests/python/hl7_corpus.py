"""A corpus of HL7 v2.5 messages built with hl7apy, each with hl7apy's own reading of it.

  hl7_corpus.py <directory>

writes ~30 messages (ADT^A04, ADT^A08, ADT^A40 with MRG, ORU^R01 with several OBR/OBX/NTE;
values with delimiters and escape sequences in them, repeated PID-3 identifiers, Z-segments
added as raw text) as <name>.hl7 and, for each, <name>.json: a list of cells

  [segment, sequence, field, repetition, component, value]            subcomponent 1
  [segment, sequence, field, repetition, component, value, subcomp]   subcomponent 2 and on

one per subcomponent hl7apy reports, all numbers 1-based; `sequence` is the occurrence of
that segment name in the message (the 2nd OBX is OBX 2), as in ERR-2.2. The messages are
written with CR, LF or CRLF between segments and some inside MLLP framing; hl7apy reads the CR
form. Consumed by shared/hl7/tests/independent.rs, which compares haven-hl7's reading.

hl7apy 1.3.5 does not unescape what it parses (a subcomponent's value is the raw ER7 text,
`\\F\\` and all). So each expected value is hl7apy's raw value passed through `unescape`
below, written here from HL7 v2.5 section 2.7 and not from haven-hl7: \\F\\ \\S\\ \\T\\ \\R\\
\\E\\ to the delimiters, adjacent \\Xhh..\\ sequences to bytes decoded as UTF-8 (lossy), \\.br\\
to a line feed, \\H\\ and \\N\\ dropped, anything else (unknown, malformed or unterminated)
kept as written. MSH-1 and MSH-2 are the delimiters themselves and are never unescaped.

hl7apy's own escaping (used when values are set through its API) leaves a backslash alone
when it already looks like part of an escape sequence (e.g. `E\\F x` stays `E\\F x`); the
corpus keeps such values, since both readers see the same ER7.
"""
import json
import random
import re
import sys
from pathlib import Path

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Segment
from hl7apy.parser import parse_message

TOLERANT = VALIDATION_LEVEL.TOLERANT
SEP = {"|": "F", "^": "S", "&": "T", "~": "R", "\\": "E"}
DECODE = {v: k for k, v in SEP.items()}

FAMILY = ["Otieno", "Wanjiru", "O'Brien", "Mwangi & Sons", "Kamau|Njoroge", "Achieng^Ouma",
          "Müller", "Nguyễn", "Ali~Hassan", "Back\\slash"]
GIVEN = ["Akinyi", "Brian", "Chebet", "Daudi", "Esther", "Faith", "José", "Zawadi"]
NOTES = ["fasting sample", "repeat in 2/52 | urgent", "Na^K panel", "see note ~ prior",
         "a & b", "C:\\results\\today", "100% done", "<5 mmol/L>", "ÄÖÜ ok"]


def segment(name):
    return Segment(name, version="2.5", validation_level=TOLERANT)


def msh(rng, kind, trigger, structure, control_id):
    s = segment("MSH")
    # A standalone MSH has no delimiters of its own until told.
    s.msh_1 = "|"
    s.msh_2 = "^~\\&"
    s.msh_3 = rng.choice(["REG", "LAB", "PAS"])
    s.msh_4 = rng.choice(["KNH", "MTRH", "AKUH^1.2.3^ISO"])
    s.msh_5 = "HAVEN"
    s.msh_6 = "H%d" % rng.randint(1, 9)
    s.msh_7 = "2026%02d%02d%02d%02d%02d" % (rng.randint(1, 12), rng.randint(1, 28),
                                            rng.randint(0, 23), rng.randint(0, 59),
                                            rng.randint(0, 59))
    s.msh_9 = "%s^%s^%s" % (kind, trigger, structure)
    s.msh_10 = control_id
    s.msh_11 = "P"
    s.msh_12 = "2.5"
    return s


def pid(rng, identifiers):
    s = segment("PID")
    s.pid_1 = "1"
    for number, authority, kind in identifiers:
        cx = s.add_field("PID_3")
        cx.cx_1 = number
        cx.cx_4.hd_1 = authority
        cx.cx_5 = kind
    # Set on the leaf, so hl7apy escapes the delimiters inside.
    s.pid_5.xpn_1.fn_1 = rng.choice(FAMILY)
    s.pid_5.xpn_2 = rng.choice(GIVEN)
    s.pid_7 = "19%02d%02d%02d" % (rng.randint(30, 99), rng.randint(1, 12), rng.randint(1, 28))
    s.pid_8 = rng.choice(["F", "M", "U"])
    s.pid_11.xad_1.sad_1 = "%d Ngong Rd" % rng.randint(1, 300)
    s.pid_11.xad_3 = rng.choice(["Nairobi", "Kisumu", "Mombasa"])
    s.pid_11.xad_4 = rng.choice(["047", "042", "001"])
    if rng.random() < 0.5:
        s.pid_13 = "^PRN^PH^^254^712345678~^NET^Internet^someone@example.org"
    return s


def identifiers(rng):
    ids = [("%06d" % rng.randint(0, 999999), "KNH", "MR")]
    for _ in range(rng.randint(0, 3)):
        ids.append(("%08d" % rng.randint(0, 99999999), rng.choice(["KE", "NHIF", "KRA"]),
                    rng.choice(["NI", "NH", "PPN"])))
    return ids


def z_segments(rng):
    # Raw text: hl7apy has no definition for these, so they go in as ER7.
    raw = [
        "ZPI|1|Ward 7^Bed 3|allergic\\T\\intolerant~none|\"\"",
        "ZPV|1||a^^b&c&&d~~x|\\H\\bold\\N\\ note\\.br\\second line",
        "ZHV|%d|caf\\XC3A9\\ \\X41\\\\X42\\|50\\Q\\x|C:\\temp" % rng.randint(1, 99),
        "ZZ1|\\S\\^\\F\\|trailing|||",
    ]
    return rng.sample(raw, rng.randint(1, 3))


def adt(rng, trigger, n):
    segments = [msh(rng, "ADT", trigger, "ADT_A39" if trigger == "A40" else "ADT_A01",
                    "ADT%s-%03d" % (trigger, n))]
    evn = segment("EVN")
    evn.evn_1 = trigger
    evn.evn_2 = segments[0].msh_7.to_er7()
    segments.append(evn)
    segments.append(pid(rng, identifiers(rng)))
    if trigger == "A40":
        mrg = segment("MRG")
        for number, authority, kind in identifiers(rng)[:2]:
            cx = mrg.add_field("MRG_1")
            cx.cx_1 = number
            cx.cx_4.hd_1 = authority
            cx.cx_5 = kind
        mrg.mrg_7.xpn_1.fn_1 = rng.choice(FAMILY)
        segments.append(mrg)
    else:
        pv1 = segment("PV1")
        pv1.pv1_1 = "1"
        pv1.pv1_2 = rng.choice(["E", "I", "O"])
        pv1.pv1_3 = "ER^01^A"
        segments.append(pv1)
        for k in range(rng.randint(0, 2)):
            al1 = segment("AL1")
            al1.al1_1 = str(k + 1)
            al1.al1_3.ce_1 = rng.choice(["PCN", "SULFA", "NUTS"])
            al1.al1_3.ce_2 = rng.choice(["Penicillin", "Sulfa & co", "Nuts ^ seeds"])
            segments.append(al1)
    return [s.to_er7() for s in segments] + z_segments(rng)


def oru(rng, n):
    lines = [msh(rng, "ORU", "R01", "ORU_R01", "ORU-%03d" % n).to_er7(),
             pid(rng, identifiers(rng)).to_er7()]
    obx_id = 0
    for r in range(rng.randint(1, 3)):
        obr = segment("OBR")
        obr.obr_1 = str(r + 1)
        obr.obr_4.ce_1 = rng.choice(["CBC", "UEC", "LFT"])
        obr.obr_4.ce_2 = rng.choice(["Full blood count", "Urea, electrolytes ^ creatinine"])
        lines.append(obr.to_er7())
        for _ in range(rng.randint(1, 4)):
            obx_id += 1
            obx = segment("OBX")
            obx.obx_1 = str(obx_id)
            obx.obx_2 = rng.choice(["NM", "ST"])
            obx.obx_3.ce_1 = rng.choice(["GLU", "HB", "NA", "K"])
            obx.obx_3.ce_2 = rng.choice(["Glucose", "Haemoglobin", "Sodium | serum"])
            # OBX-5 is a varies field: set as ER7 text, escaped by hand where needed.
            obx.obx_5 = rng.choice(["5.4", "13.2", "positive \\T\\ confirmed", "<0.1",
                                    "1\\S\\2~3\\S\\4"])
            obx.obx_6.ce_1 = rng.choice(["mmol/L", "g/dL", "%"])
            obx.obx_11 = "F"
            lines.append(obx.to_er7())
            if rng.random() < 0.6:
                nte = segment("NTE")
                nte.nte_1 = "1"
                nte.nte_3 = rng.choice(NOTES)
                lines.append(nte.to_er7())
            if rng.random() < 0.3:
                # Raw FT text with formatting escapes hl7apy would otherwise re-escape.
                lines.append("NTE|2||line one\\.br\\line two \\H\\high\\N\\ \\X263B\\")
    return lines + z_segments(rng)


def unescape(text):
    out, pending, i = [], bytearray(), 0

    def flush():
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
            pending.clear()

    while i < len(text):
        if text[i] != "\\":
            flush()
            out.append(text[i])
            i += 1
            continue
        end = text.find("\\", i + 1)
        if end < 0:
            flush()
            out.append(text[i:])
            break
        inner = text[i + 1:end]
        i = end + 1
        if inner in ("H", "N"):
            continue
        if re.fullmatch(r"X(?:[0-9A-Fa-f]{2})+", inner):
            pending.extend(bytes.fromhex(inner[1:]))
            continue
        flush()
        if inner in DECODE:
            out.append(DECODE[inner])
        elif inner == ".br":
            out.append("\n")
        else:
            out.append("\\" + inner + "\\")
    flush()
    return "".join(out)


def position(element, siblings):
    """An element's 1-based place: from its name (`CX_4`) or, where hl7apy names it by type
    (`ST`, in Z-segments and primitive fields), from its place among its siblings."""
    match = re.search(r"_(\d+)$", element.name)
    if match:
        return int(match.group(1))
    return next(i for i, e in enumerate(siblings) if e is element) + 1


def raw_value(sub):
    value = sub.value.value if hasattr(sub.value, "value") else sub.value
    # Numbers and dates come back typed; to_er7 gives their text as written.
    return value if isinstance(value, str) else sub.to_er7()


def cells(text):
    message = parse_message(text, validation_level=TOLERANT, find_groups=False)
    out, seen = [], {}
    for seg in message.children:
        seen[seg.name] = seen.get(seg.name, 0) + 1
        sequence = seen[seg.name]
        repetitions = {}
        for field in seg.children:
            number = int(field.name.rsplit("_", 1)[1])
            repetitions[number] = repetitions.get(number, 0) + 1
            components = list(field.children)
            for component in components:
                c = position(component, components)
                subs = list(component.children)
                for sub in subs:
                    s = position(sub, subs)
                    value = raw_value(sub)
                    if not (seg.name == "MSH" and number in (1, 2)):
                        value = unescape(value)
                    cell = [seg.name, sequence, number, repetitions[number], c, value]
                    if s > 1:
                        cell.append(s)
                    out.append(cell)
    return out


def main():
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2571)
    messages = []
    for n in range(8):
        messages.append(("adt_a04_%02d" % n, adt(rng, "A04", n)))
    for n in range(6):
        messages.append(("adt_a08_%02d" % n, adt(rng, "A08", n)))
    for n in range(5):
        messages.append(("adt_a40_%02d" % n, adt(rng, "A40", n)))
    for n in range(11):
        messages.append(("oru_r01_%02d" % n, oru(rng, n)))
    for k, (name, lines) in enumerate(messages):
        text = "\r".join(lines) + "\r"
        # The same message on the wire in the ways senders write it.
        wire = ["\r", "\n", "\r\n", "mllp"][k % 4]
        if wire == "mllp":
            data = b"\x0b" + text.encode("utf-8") + b"\x1c\x0d"
        else:
            data = (wire.join(lines) + wire).encode("utf-8")
        (directory / (name + ".hl7")).write_bytes(data)
        (directory / (name + ".json")).write_text(json.dumps(cells(text), ensure_ascii=False))
    print(len(messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
