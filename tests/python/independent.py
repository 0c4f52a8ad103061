"""Independent implementations that Haven's tokens and codes must satisfy.

  independent.py totp <base32-secret> [offset-s]    prints the TOTP code (pyotp) for now + offset
  independent.py verify-jwt <jwks-url> <token>      verifies an access token with PyJWT against
                                                    the JWKS; prints its claims as JSON
  independent.py fhir-bundle <file>                 validates a FHIR Bundle with fhir.resources
                                                    (R4B models); prints the resource types
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
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
