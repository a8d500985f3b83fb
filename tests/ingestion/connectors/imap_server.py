"""A real Dovecot IMAP server on loopback, started (not daemonized) for the tests.

Dovecot comes from Debian's ``dovecot-imapd`` package (``make test`` installs it). Each
server gets its own directory for configuration, state, logs and mail, and a free port.
Every user name logs in with the server's one password, so each test takes a fresh
mailbox. The log records, per session, how many message bodies were downloaded
(``body_count``), which lets a test prove that a sync fetched nothing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from imapclient import IMAPClient

INSTALL_HINT = "Dovecot is not installed: `make test` installs it (apt-get install dovecot-imapd)."
_BODY_COUNT = re.compile(r"Disconnected: .*\bbody_count=(\d+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _certificates(root: Path) -> str:
    """A private CA and a certificate it signed for 127.0.0.1 / localhost; returns the CA's PEM."""
    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("OPAA test CA"))
        .issuer_name(name("OPAA test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (root / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM).decode()


def _find_dovecot() -> str:
    found = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )
    if not found:
        raise RuntimeError(INSTALL_HINT)
    return found


class Dovecot:
    def __init__(self, root: Path, *, password: str) -> None:
        self.root = root
        # Every user name logs in with this password (a static passdb: users need no
        # registration, so each test can take a fresh mailbox).
        self.password = password
        self.port = _free_port()  # plain IMAP, with STARTTLS
        self.tls_port = _free_port()  # IMAPS
        self.ca_certificate = ""
        self.log = root / "dovecot.log"
        self._process: subprocess.Popen | None = None
        self._owns_root = False

    @classmethod
    def temporary(cls, *, password: str) -> Dovecot:
        """A server in a new directory that ``stop`` removes.

        Not under pytest's ``tmp_path``: Dovecot's own processes run as unprivileged
        users and must be able to reach their files, and pytest's folders are private.
        """
        root = Path(tempfile.mkdtemp(prefix="opaa-dovecot-"))
        root.chmod(0o755)
        server = cls(root, password=password)
        server._owns_root = True
        return server

    def _config(self) -> str:
        mail = self.root / "mail"
        if os.geteuid() == 0:
            # Dovecot refuses to keep mail as root; its unprivileged login user exists
            # wherever the package is installed.
            account = pwd.getpwnam("dovenull")
            owner = "dovenull"
            extra = ""
        else:
            account = pwd.getpwuid(os.geteuid())
            owner = account.pw_name
            extra = f"default_internal_user = {owner}\ndefault_login_user = {owner}\n"
        mail.mkdir(parents=True, exist_ok=True)
        os.chown(mail, account.pw_uid, account.pw_gid)
        return f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = opaa-test-{self.port}
log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.root}/cert.pem
ssl_key = <{self.root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
first_valid_uid = 1
{extra}
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={owner} gid={account.pw_gid} home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""

    def start(self) -> Dovecot:
        binary = _find_dovecot()
        for name in ("run", "state"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self.ca_certificate = _certificates(self.root)
        config = self.root / "dovecot.conf"
        config.write_text(self._config())
        self._process = subprocess.Popen(
            [binary, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "wb"),  # noqa: SIM115 - lives with the process
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    "Dovecot exited: " + (self.root / "stderr.log").read_text()[-2000:]
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Dovecot did not listen on port {self.port} within 20 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def client(self, user: str, password: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, password)
        return client

    def log_mark(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def bodies_fetched(self, since: int, *, user: str) -> int:
        """Message bodies ``user``'s sessions downloaded since ``since`` (a log_mark())."""
        # The session's summary is logged when it ends; give the server a moment.
        time.sleep(0.2)
        with self.log.open("rb") as log:
            log.seek(since)
            lines = log.read().decode("utf-8", "replace").splitlines()
        return sum(
            int(match.group(1))
            for line in lines
            if f"imap({user})" in line and (match := _BODY_COUNT.search(line))
        )
