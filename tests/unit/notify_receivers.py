#!/usr/bin/env python3
"""Local receivers for test_notify_send: an HTTP server that checks the webhook, DingTalk and
Feishu signatures independently, an SMTP sink with STARTTLS, and a syslog listener (TCP or TLS,
octet-counted frames). Binds 127.0.0.1 on a free port, prints the port, appends one JSON line
per accepted message to OUT, and exits by itself after --lifetime seconds.

usage: notify_receivers.py http OUT WEBHOOK_SECRET DINGTALK_SECRET FEISHU_SECRET
       notify_receivers.py smtp OUT CERT KEY        (CERT "-" = no STARTTLS offered)
       notify_receivers.py syslog OUT CERT KEY      (CERT "-" = plain TCP)
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

LIFETIME = 60
lock = threading.Lock()


def record(out, obj):
    with lock, open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj) + "\n")


def b64hmac(key, msg):
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def run_http(out, hook_secret, ding_secret, feishu_secret):
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            url = urllib.parse.urlsplit(self.path)
            path = url.path
            now = time.time()
            ok = False
            if path == "/webhook":
                ts = self.headers.get("X-Yiwang-Timestamp", "")
                sig = self.headers.get("X-Yiwang-Signature", "")
                want = "sha256=" + hmac.new(hook_secret.encode(), ts.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
                ok = ts.isdigit() and abs(now - int(ts)) < 300 and hmac.compare_digest(sig, want)
                if not ok:
                    return self.reply(401, {"error": "bad signature"})
            elif path == "/dingtalk":
                q = urllib.parse.parse_qs(url.query)
                ts = q.get("timestamp", [""])[0]
                sign = q.get("sign", [""])[0]
                want = b64hmac(ding_secret.encode(), (ts + "\n" + ding_secret).encode())
                ok = ts.isdigit() and abs(now * 1000 - int(ts)) < 3600e3 and sign == want
                if not ok:
                    return self.reply(200, {"errcode": 310000, "errmsg": "sign not match"})
            elif path == "/feishu":
                j = json.loads(body)
                ts = j.get("timestamp", "")
                want = b64hmac((ts + "\n" + feishu_secret).encode(), b"")
                ok = ts.isdigit() and abs(now - int(ts)) < 3600 and j.get("sign") == want
                if not ok:
                    return self.reply(200, {"code": 19021, "msg": "sign match fail"})
            elif path == "/wecom":
                j = json.loads(body)
                ok = len(j["markdown"]["content"].encode()) <= 4096
                if not ok:
                    return self.reply(200, {"errcode": 40058, "errmsg": "too long"})
            elif path == "/wecom-limited":
                return self.reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
            else:
                return self.reply(500, {"error": "fail"})
            record(out, {"path": path, "verified": ok, "body": body.decode(),
                         "delivery": self.headers.get("X-Yiwang-Delivery")})
            self.reply(200, {"errcode": 0, "code": 0, "errmsg": "ok"})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    return srv


def ssl_ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def run_smtp(out, cert, key):
    ctx = ssl_ctx(cert, key) if cert != "-" else None

    class H(socketserver.StreamRequestHandler):
        timeout = 20

        def handle(self):
            conn = self.request
            f = conn.makefile("rb")
            tls = False
            msg = {"tls": False, "rcpt": [], "auth": None}

            def say(s):
                conn.sendall((s + "\r\n").encode())

            say("220 localhost test SMTP")
            while True:
                line = f.readline(4096)
                if not line:
                    return
                cmd = line.decode(errors="replace").rstrip("\r\n")
                verb = cmd.split(" ")[0].upper()
                if verb in ("EHLO", "HELO"):
                    caps = ["localhost"]
                    if ctx and not tls:
                        caps.append("STARTTLS")
                    if tls:
                        caps.append("AUTH PLAIN")
                    for c in caps[:-1]:
                        say("250-" + c)
                    say("250 " + caps[-1])
                elif verb == "STARTTLS" and ctx and not tls:
                    say("220 go ahead")
                    conn = ctx.wrap_socket(conn, server_side=True)
                    f = conn.makefile("rb")
                    tls = True
                    msg["tls"] = True
                elif verb == "AUTH":
                    parts = cmd.split(" ")
                    if len(parts) > 2:
                        raw = base64.b64decode(parts[2])
                    else:
                        say("334 ")
                        raw = base64.b64decode(f.readline(4096).strip())
                    msg["auth"] = raw.split(b"\0")[1:] and raw.split(b"\0")[1].decode()
                    msg["password"] = raw.split(b"\0")[-1].decode()
                    say("235 ok")
                elif verb == "MAIL":
                    msg["from"] = cmd[10:]
                    say("250 ok")
                elif verb == "RCPT":
                    msg["rcpt"].append(cmd[8:])
                    say("250 ok")
                elif verb == "DATA":
                    say("354 go")
                    data = b""
                    while True:
                        l = f.readline(100000)
                        if not l or l == b".\r\n":
                            break
                        data += l
                    msg["data"] = data.decode(errors="replace")
                    record(out, msg)
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 ok")

    class S(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    return S(("127.0.0.1", 0), H)


def run_syslog(out, cert, key):
    ctx = ssl_ctx(cert, key) if cert != "-" else None

    class H(socketserver.BaseRequestHandler):
        def handle(self):
            conn = self.request
            conn.settimeout(20)
            if ctx:
                try:
                    conn = ctx.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # a client that refused our certificate
            buf = b""
            while True:
                try:
                    d = conn.recv(65536)
                except (OSError, ssl.SSLError):
                    d = b""
                if not d:
                    break
                buf += d
                while b" " in buf:
                    n, rest = buf.split(b" ", 1)
                    if not n.isdigit() or len(rest) < int(n):
                        break
                    msg, buf = rest[:int(n)], rest[int(n):]
                    record(out, {"tls": ctx is not None, "len": int(n),
                                 "msg": msg.decode(errors="replace")})

    class S(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    return S(("127.0.0.1", 0), H)


def main():
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "http":
        srv = run_http(out, *sys.argv[3:6])
    elif kind == "smtp":
        srv = run_smtp(out, *sys.argv[3:5])
    else:
        srv = run_syslog(out, *sys.argv[3:5])
    os.write(1, b"%d\n" % srv.server_address[1])  # one write: the reader stops at \n
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    time.sleep(LIFETIME)


if __name__ == "__main__":
    main()
