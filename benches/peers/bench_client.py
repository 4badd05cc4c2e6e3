#!/usr/bin/env python3
"""Helpers for scripts/bench (standard library only).

  sign-in BASE NHS_NUMBER        prints "COOKIE_HEADER\\tAPPOINTMENT_PATH": signs in through the
                                 simulator's form (the way tests/src does) and finds an
                                 appointment page on the list page
  sessions BASE NHS_NUMBER N     signs in N times (N live sessions), 8 threads
  pca BASE NHS_NUMBER            prints "BEARER\\tID_TOKEN" from the simulator's client_credentials
                                 grant (pca-demo) and the NHS App ID-token endpoint
  fsync DIR                      median and p99 time of write+fsync of 4 KiB in DIR, in ms
"""
import base64, html, http.cookiejar, json, os, re, statistics, sys, threading, time
import urllib.parse, urllib.request

def opener():
    jar = http.cookiejar.CookieJar()
    return jar, urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

def sign_in(base, nhs):
    jar, op = opener()
    page = op.open(base + "/patient-portal/appointments")
    text = page.read().decode()
    m = re.search(r'<form[^>]*action="([^"]*)"', text)
    action = urllib.parse.urljoin(page.geturl(), html.unescape(m.group(1)) if m else page.geturl())
    data = urllib.parse.urlencode({"nhs_number": nhs, "decision": "allow"}).encode()
    listing = op.open(action, data).read().decode()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, listing

def main():
    cmd = sys.argv[1]
    if cmd == "sign-in":
        cookie, listing = sign_in(sys.argv[2], sys.argv[3])
        m = re.search(r'href="(/patient-portal/appointment/[^"/?#]+)"', listing)
        print(f"{cookie}\t{m.group(1) if m else ''}")
    elif cmd == "sessions":
        base, nhs, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        left = [n]; lock = threading.Lock()
        def work():
            while True:
                with lock:
                    if left[0] == 0: return
                    left[0] -= 1
                sign_in(base, nhs)
        ts = [threading.Thread(target=work) for _ in range(8)]
        [t.start() for t in ts]; [t.join() for t in ts]
    elif cmd == "pca":
        base, nhs = sys.argv[2], sys.argv[3]
        auth = base64.b64encode(b"pca-demo:" + os.environ.get("NHS_PORTAL_DEMO_PCA_SECRET", "demo-pca-secret").encode()).decode()
        req = urllib.request.Request(base + "/nhs-login-simulator/token",
            urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
            {"Authorization": "Basic " + auth})
        bearer = json.load(urllib.request.urlopen(req))["access_token"]
        idt = json.load(urllib.request.urlopen(base + "/nhs-login-simulator/nhs-app/id-token",
            urllib.parse.urlencode({"nhs_number": nhs}).encode()))["id_token"]
        print(f"{bearer}\t{idt}")
    elif cmd == "fsync":
        path = os.path.join(sys.argv[2], "fsync-probe"); times = []
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        for _ in range(200):
            t = time.perf_counter(); os.write(fd, b"x" * 4096); os.fsync(fd)
            times.append((time.perf_counter() - t) * 1000)
        os.close(fd); os.unlink(path); times.sort()
        print(f"{statistics.median(times):.2f} {times[int(len(times) * 0.99)]:.2f}")

main()
