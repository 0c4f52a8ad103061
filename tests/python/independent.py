"""Independent implementations that Haven's tokens and codes must satisfy.

  independent.py totp <base32-secret> [offset-s]    prints the TOTP code (pyotp) for now + offset
  independent.py verify-jwt <jwks-url> <token>      verifies an access token with PyJWT against
                                                    the JWKS; prints its claims as JSON
  independent.py fhir-bundle <file>                 validates a FHIR Bundle with fhir.resources
                                                    (R4B models); prints the resource types
  independent.py fhir-patient <file>                validates a FHIR Patient with fhir.resources
                                                    (R4B models); prints what it read as JSON
  independent.py verify-webhook < delivery.json     verifies a Standard Webhooks signature with
                                                    the `standardwebhooks` library
  independent.py hl7-adt < spec.json                builds an ADT^A04/A08/A40 message with hl7apy
                                                    from {"event", "control_id", "pid": {field:
                                                    er7}, "nk1": {...}, "mrg": {...}}; prints ER7
  independent.py hl7-ack < ack                      parses an ACK strictly with hl7apy; prints its
                                                    MSA and ERR segments as JSON
  independent.py hl7 < message                      parses and strictly validates HL7 v2.5 with
                                                    hl7apy; prints type, encoding, segments
"""
import json
import sys
import time
import urllib.request

import jwt
import pyotp


def main() -> int:
    command = sys.argv[1]
    if command == "totp":
        offset = int(sys.argv[3]) if len(sys.argv) > 3 else 0
        print(pyotp.TOTP(sys.argv[2]).at(time.time() + offset))
        return 0
    if command == "verify-jwt":
        url, token = sys.argv[2], sys.argv[3]
        with urllib.request.urlopen(url, timeout=10) as response:
            jwks = json.load(response)
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in jwks["keys"] if k["kid"] == kid)
        public_key = jwt.PyJWK(key).key
        claims = jwt.decode(token, public_key, algorithms=["EdDSA"], audience="haven-api", issuer="haven")
        print(json.dumps(claims))
        return 0
    if command == "fhir-bundle":
        from fhir.resources.R4B.bundle import Bundle

        with open(sys.argv[2], encoding="utf-8") as f:
            bundle = Bundle.model_validate(json.load(f))
        print(" ".join(e.resource.get_resource_type() for e in bundle.entry))
        return 0
    if command == "fhir-patient":
        from fhir.resources.R4B.patient import Patient

        with open(sys.argv[2], encoding="utf-8") as f:
            patient = Patient.model_validate(json.load(f))
        print(json.dumps({
            "id": patient.id,
            "identifiers": [[i.system, i.value, i.type.coding[0].code if i.type and i.type.coding else None]
                            for i in patient.identifier or []],
            "family": patient.name[0].family,
            "given": patient.name[0].given,
            "gender": patient.gender,
            "birthDate": str(patient.birthDate) if patient.birthDate else None,
            "telecom": [[t.system, t.value] for t in patient.telecom or []],
            "county": patient.address[0].state if patient.address else None,
        }))
        return 0
    if command == "verify-webhook":
        # stdin: {"secret": "whsec_...", "headers": {...}, "body": "..."}
        from standardwebhooks.webhooks import Webhook

        delivery = json.load(sys.stdin)
        payload = Webhook(delivery["secret"]).verify(delivery["body"], delivery["headers"])
        print(json.dumps({"type": payload["type"], "alert_id": payload["alert_id"]}))
        return 0
    if command == "hl7-adt":
        from hl7apy.core import Message

        spec = json.load(sys.stdin)
        event = spec["event"]
        structure = {"A04": "ADT_A01", "A08": "ADT_A01", "A40": "ADT_A39"}[event]
        message = Message(structure, version="2.5")
        message.msh.msh_3 = "KNH-EMR"
        message.msh.msh_4 = "KNH"
        message.msh.msh_5 = "HAVEN"
        message.msh.msh_6 = spec.get("facility", "demo-knh")
        message.msh.msh_9 = f"ADT^{event}^{structure}"
        message.msh.msh_10 = spec["control_id"]
        message.msh.msh_11 = "P"
        message.evn.evn_1 = event
        if event == "A40":
            group = message.add_group("ADT_A39_PATIENT")
            pid, mrg = group.add_segment("PID"), group.add_segment("MRG")
            for field, value in spec.get("mrg", {}).items():
                setattr(mrg, f"mrg_{field}", value)
        else:
            pid = message.add_segment("PID")
        for field, value in spec.get("pid", {}).items():
            # One field per repetition: hl7apy escapes a `~` given in a whole field's value.
            for repetition in value.split("~"):
                pid.add_field(f"PID_{field}").value = repetition
        if spec.get("nk1"):
            nk1 = message.add_segment("NK1")
            nk1.nk1_1 = "1"
            for field, value in spec["nk1"].items():
                setattr(nk1, f"nk1_{field}", value)
        print(message.to_er7(), end="")
        return 0
    if command == "hl7-ack":
        from hl7apy.parser import parse_message
        from hl7apy.consts import VALIDATION_LEVEL

        ack = parse_message(sys.stdin.read(), validation_level=VALIDATION_LEVEL.STRICT, find_groups=False)
        ack.validate()
        print(json.dumps({
            "type": ack.msh.msh_9.to_er7(),
            "ack_code": ack.msa.msa_1.to_er7(),
            "control_id": ack.msa.msa_2.to_er7(),
            "errors": [
                {"location": err.err_2.to_er7(), "code": err.err_3.to_er7(), "severity": err.err_4.to_er7(),
                 "text": err.err_8.to_er7()}
                for err in ack.children.get("ERR") or []
            ] if ack.children.get("ERR") else [],
        }))
        return 0
    if command == "hl7":
        # stdin: the message; prints the segment names and the message type.
        from hl7apy.parser import parse_message
        from hl7apy.consts import VALIDATION_LEVEL

        text = sys.stdin.read()
        message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        message.validate()
        print(json.dumps({
            "type": message.msh.msh_9.to_er7(),
            "version": message.msh.msh_12.to_er7(),
            "encoding": message.msh.msh_2.to_er7(),
            "patient": message.pid.pid_5.to_er7(),
            "segments": [child.name for child in message.children],
            "allergy": message.al1.al1_3.al1_3_2.value if message.children.get("AL1") else None,
            "sex": message.pid.pid_8.to_er7(),
            # Each OBX as hl7apy reads it: identifier, value type, value and units.
            "observations": [
                {
                    "code": obx.obx_3.obx_3_1.to_er7(),
                    "type": obx.obx_2.to_er7(),
                    "value": obx.obx_5.to_er7(),
                    "units": obx.obx_6.obx_6_1.to_er7() if obx.obx_6.value else "",
                }
                for obx in message.children.get("OBX") or []
            ] if message.children.get("OBX") else [],
        }))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
