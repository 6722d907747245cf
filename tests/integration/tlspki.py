# tlspki.py: test certificates for the HTTPS tests, made with the openssl CLI.
#
# Owns: a throw-away PKI in a directory the caller owns: a P-256 root CA,
# an intermediate CA, and leaf certificates that testssl.sh rates clean
# (SANs that match, a CRL distribution point, 200 days of validity).
# Runs in the test script's process; each call runs `openssl` a few times.

import os
import subprocess

DAYS = "200"          # testssl: < 60 days left is MEDIUM/HIGH, >= 10 years HIGH
CRL_URI = "http://127.0.0.1/mpmd-test-ca.crl"   # testssl: no CRL/OCSP URI is HIGH


def _openssl(*args, cwd):
    subprocess.run(("openssl",) + args, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)


def _ca(d, name, subject, signer=None):
    """A CA certificate NAME.crt/NAME.key, self-signed or signed by SIGNER."""
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\n"
                "keyUsage=critical,keyCertSign,cRLSign\n"
                "subjectKeyIdentifier=hash\n")
    if signer is None:
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", name + ".key", "-out", name + ".crt", "-days", DAYS,
                 "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        return
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", subject, cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", signer + ".crt", "-CAkey",
             signer + ".key", "-CAcreateserial", "-out", name + ".crt", "-days", DAYS,
             "-extfile", ext, cwd=d)


def _leaf(d, name, names, kind="ec", signer="ca"):
    """Leaf NAME.crt/NAME.key for DNS NAMES (+ 127.0.0.1), KIND ec or rsa."""
    sans = ",".join(["DNS:%s" % n for n in names] + ["IP:127.0.0.1"])
    usage = "digitalSignature" + (",keyEncipherment" if kind == "rsa" else "")
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,%s\nextendedKeyUsage=serverAuth\n"
                "crlDistributionPoints=URI:%s\n" % (sans, usage, CRL_URI))
    key = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec"
           else ["-newkey", "rsa:2048"])
    _openssl("req", "-new", *key, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
             "-subj", "/CN=%s" % names[0], cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", signer + ".crt", "-CAkey",
             signer + ".key", "-CAcreateserial", "-out", name + ".crt", "-days", DAYS,
             "-extfile", ext, cwd=d)


def make_pki(d):
    """Make the PKI in directory D (created if missing); returns a dict of paths:
    ca, ec_crt/ec_key, rsa_crt/rsa_key (a.test, localhost), b_crt/b_key (b.test),
    chain_crt/chain_key (c.test: leaf + intermediate in one file, signed by the
    intermediate), bad_crt (not a certificate), other_key (matches nothing)."""
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    _ca(d, "ca", "/CN=mpmd test CA")
    _ca(d, "inter", "/CN=mpmd test intermediate", signer="ca")
    _leaf(d, "ec", ["a.test", "localhost"])
    _leaf(d, "rsa", ["a.test", "localhost"], kind="rsa")
    _leaf(d, "b", ["b.test"])
    _leaf(d, "c", ["c.test"], signer="inter")
    _leaf(d, "other", ["other.test"])
    p = lambda n: os.path.join(d, n)
    with open(p("chain.crt"), "w") as out:
        for part in ("c.crt", "inter.crt"):
            with open(p(part)) as f:
                out.write(f.read())
    with open(p("bad.crt"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                "-----END CERTIFICATE-----\n")
    return {"ca": p("ca.crt"), "ec_crt": p("ec.crt"), "ec_key": p("ec.key"),
            "rsa_crt": p("rsa.crt"), "rsa_key": p("rsa.key"),
            "b_crt": p("b.crt"), "b_key": p("b.key"),
            "chain_crt": p("chain.crt"), "chain_key": p("c.key"),
            "bad_crt": p("bad.crt"), "other_key": p("other.key")}


if __name__ == "__main__":
    import sys
    import json
    print(json.dumps(make_pki(sys.argv[1] if len(sys.argv) > 1 else "pki"), indent=1))
