"""An independent implementation of Bitnami Sealed Secrets' sealing scheme, on
Python's `cryptography` package (OpenSSL underneath, but none of coffer's code).

Written from the format as docs/sealed-secrets.md describes it, to check coffer
against in both directions (tests/integration/test_seal_interop.py):

  value  = uint16 big-endian len(R) || R || AES-256-GCM(K, nonce 0^12)(plaintext) || tag
  R      = RSA-OAEP(SHA-256, MGF1-SHA-256, label)(K), K a fresh 32-byte key
  label  = "<namespace>/<name>" (strict), "<namespace>" (namespace-wide), "" (cluster-wide)

and the manifests: a SealedSecret (bitnami.com/v1alpha1) holds one sealed value
per item of the Secret's data (decoded bytes) and stringData (UTF-8; wins over
data), its scope as an annotation on its own metadata, and the Secret's metadata
as spec.template; unsealing takes the label from the SealedSecret's own metadata.
"""

import base64
import copy
import datetime
import os
import struct

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

API_VERSION = "bitnami.com/v1alpha1"
ANN_NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
ANN_CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
ANN_SKIP_OWNER = "sealedsecrets.bitnami.com/skip-set-owner-references"
LAST_APPLIED = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
)
SERVER_FIELDS = (
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
)
ZERO_NONCE = bytes(12)


class UnsealError(Exception):
    """No key could open a value (wrong key, wrong label, tampered, truncated)."""


# ---------------------------------------------------------------------------
# keys


def generate_key(bits=4096):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def self_signed_cert(key, cn="", days=3650):
    """A self-signed CA certificate for key, as a controller makes one (key usage aside)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def key_pem(key, pkcs8=False):
    fmt = serialization.PrivateFormat.PKCS8 if pkcs8 else serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert_public_key(pem):
    """The RSA public key of the first certificate in pem (bytes)."""
    cert = x509.load_pem_x509_certificate(pem)
    pub = cert.public_key()
    if not isinstance(pub, rsa.RSAPublicKey):
        raise ValueError("certificate key is not RSA")
    return pub


def load_private_key(pem):
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private key is not RSA")
    return key


# ---------------------------------------------------------------------------
# one value


def label_for(scope, namespace, name):
    if scope == "cluster-wide":
        return b""
    if scope == "namespace-wide":
        return (namespace or "").encode()
    return f"{namespace or ''}/{name}".encode()


def _oaep(label):
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None)


def seal_value(public_key, plaintext, label):
    """The sealed bytes of plaintext (bytes) for public_key under label (bytes)."""
    session_key = os.urandom(32)
    wrapped = public_key.encrypt(session_key, _oaep(label))
    body = AESGCM(session_key).encrypt(ZERO_NONCE, plaintext, None)  # ciphertext || tag
    return struct.pack(">H", len(wrapped)) + wrapped + body


def unseal_value(private_keys, sealed, label):
    """Opens sealed (bytes) with the first of private_keys that can; returns
    (plaintext, index of the key)."""
    if len(sealed) < 2:
        raise UnsealError("truncated")
    (rlen,) = struct.unpack(">H", sealed[:2])
    if len(sealed) < 2 + rlen + 16:
        raise UnsealError("truncated")
    wrapped, body = sealed[2 : 2 + rlen], sealed[2 + rlen :]
    for i, key in enumerate(private_keys):
        if key.key_size // 8 != rlen:
            continue
        try:
            session_key = key.decrypt(wrapped, _oaep(label))
        except ValueError:
            continue
        if len(session_key) != 32:
            continue
        try:
            return AESGCM(session_key).decrypt(ZERO_NONCE, body, None), i
        except InvalidTag:
            continue
    raise UnsealError("no key could decrypt the value")


def b64(data):
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text.encode(), validate=True)


# ---------------------------------------------------------------------------
# manifests


def scope_of(metadata):
    ann = (metadata or {}).get("annotations") or {}
    if ann.get(ANN_CLUSTER_WIDE) == "true":
        return "cluster-wide"
    if ann.get(ANN_NAMESPACE_WIDE) == "true":
        return "namespace-wide"
    return "strict"


def seal_secret(public_key, secret, scope=None, namespace="default"):
    """A SealedSecret (dict) for a Secret (dict), as kubeseal builds one."""
    if secret.get("kind") != "Secret":
        raise ValueError("not a Secret")
    meta = copy.deepcopy(secret.get("metadata") or {})
    if not meta.get("name"):
        raise ValueError("metadata.name missing")
    ann = dict(meta.get("annotations") or {})
    if scope is not None and scope != "strict":
        ann.pop(ANN_NAMESPACE_WIDE, None)
        ann.pop(ANN_CLUSTER_WIDE, None)
        ann[ANN_CLUSTER_WIDE if scope == "cluster-wide" else ANN_NAMESPACE_WIDE] = "true"
    for k in LAST_APPLIED:
        ann.pop(k, None)
    meta["annotations"] = ann
    sc = scope_of(meta)
    if sc != "cluster-wide" and not meta.get("namespace"):
        meta["namespace"] = namespace
    label = label_for(sc, meta.get("namespace"), meta["name"])

    items = {k: unb64(v) for k, v in (secret.get("data") or {}).items()}
    items.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})

    template_meta = {k: v for k, v in meta.items() if k not in SERVER_FIELDS}
    template_meta["creationTimestamp"] = None
    if not ann:
        del template_meta["annotations"]
    template = {"metadata": template_meta}
    if "type" in secret:
        template["type"] = secret["type"]
    if "immutable" in secret:
        template["immutable"] = secret["immutable"]

    top = {"name": meta["name"], "creationTimestamp": None}
    if meta.get("namespace"):
        top["namespace"] = meta["namespace"]
    if sc == "namespace-wide":
        top["annotations"] = {ANN_NAMESPACE_WIDE: "true"}
    elif sc == "cluster-wide":
        top["annotations"] = {ANN_CLUSTER_WIDE: "true"}
    return {
        "kind": "SealedSecret",
        "apiVersion": API_VERSION,
        "metadata": top,
        "spec": {
            "template": template,
            "encryptedData": {k: b64(seal_value(public_key, v, label)) for k, v in sorted(items.items())},
        },
    }


def sealed_label(sealed):
    meta = sealed["metadata"]
    return label_for(scope_of(meta), meta.get("namespace"), meta["name"])


def unseal_items(private_keys, sealed):
    """{item: (plaintext bytes, key index)} of a SealedSecret; raises UnsealError."""
    if sealed.get("kind") != "SealedSecret" or sealed.get("apiVersion") != API_VERSION:
        raise ValueError("not a SealedSecret")
    label = sealed_label(sealed)
    return {k: unseal_value(private_keys, unb64(v), label) for k, v in sealed["spec"]["encryptedData"].items()}


def unseal_manifest(private_keys, sealed):
    """The Secret (dict) the controller makes from a SealedSecret."""
    items = unseal_items(private_keys, sealed)
    template = sealed["spec"].get("template") or {}
    meta = copy.deepcopy(template.get("metadata") or {})
    meta["name"] = sealed["metadata"]["name"]
    if sealed["metadata"].get("namespace"):
        meta["namespace"] = sealed["metadata"]["namespace"]
    else:
        meta.pop("namespace", None)
    if (meta.get("annotations") or {}).get(ANN_SKIP_OWNER) != "true":
        ref = {
            "apiVersion": API_VERSION,
            "kind": "SealedSecret",
            "name": sealed["metadata"]["name"],
            "controller": True,
        }
        if sealed["metadata"].get("uid"):
            ref["uid"] = sealed["metadata"]["uid"]
        meta["ownerReferences"] = [ref]
    secret = {"kind": "Secret", "apiVersion": "v1", "metadata": meta}
    if "immutable" in template:
        secret["immutable"] = template["immutable"]
    secret["data"] = {k: b64(pt) for k, (pt, _) in sorted(items.items())}
    if "type" in template:
        secret["type"] = template["type"]
    return secret
