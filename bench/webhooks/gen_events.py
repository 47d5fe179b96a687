#!/usr/bin/env python3
"""Pre-generates signed Stripe `payment_intent.succeeded` webhook requests for wrk.

Each event is unique (event id, payment intent id, charge id), carries a fresh timestamp
(`created` in the body and `t=` in Stripe-Signature are "now" at generation time, so generate
right before a run: the server accepts |now - t| <= 300 s) and is ~2.1 KB of pretty JSON with
the same fields, order and 2-space indentation as a real Stripe event (the shape of
tests/support/webhook_client.cpp payment_intent_event). metadata.campaign names an existing
campaign and there is no metadata.donation_id, so the server sees a payment it did not create:
it records a donation, moves it to succeeded, issues a receipt number and queues outbox rows.

Output: one file per wrk thread, PREFIX-<thread>.req, each a sequence of records
"<8-digit decimal length><complete HTTP/1.1 request>" (request line, Host, Content-Type,
Stripe-Signature, Content-Length, body). bench/webhooks/webhooks.lua sends them in order, each
once, and stops the thread when its file runs out (never repeats an event).

Usage: gen_events.py --out PREFIX --threads 2 --count N --tag RUN --port PORT --secret whsec_...
       [--only-thread T] [--campaign SLUG] [--currency chf] [--host 127.0.0.1]
Prints the number of events written and the mean body size.
"""
import argparse
import hashlib
import hmac
import json
import time


def template(campaign: str, currency: str) -> str:
    # Placeholders are replaced per event; everything else is constant. Built with json.dumps
    # (indent=2) so the layout is exactly what Stripe (and the C++ test helper) produce.
    pi = {
        "id": "@PI@", "object": "payment_intent", "amount": "@AMOUNT@",
        "amount_capturable": 0, "amount_details": {"tip": {}}, "amount_received": "@AMOUNT@",
        "application": None, "application_fee_amount": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "canceled_at": None, "cancellation_reason": None, "capture_method": "automatic_async",
        "client_secret": "@PI@_secret_NotARealSecretForBenchmarks0000",
        "confirmation_method": "automatic", "created": "@CREATED@", "currency": currency,
        "customer": None, "description": None, "invoice": None, "last_payment_error": None,
        "latest_charge": "@CH@", "livemode": False,
        "metadata": {"campaign": campaign}, "next_action": None, "on_behalf_of": None,
        "payment_method": "pm_1BenchCardVisa000000001",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                            "network": None, "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"], "processing": None, "receipt_email": "donor@example.org",
        "review": None, "setup_future_usage": None, "shipping": None, "source": None,
        "statement_descriptor": None, "statement_descriptor_suffix": None, "status": "succeeded",
        "transfer_data": None, "transfer_group": None,
    }
    event = {
        "id": "@EVT@", "object": "event", "api_version": "2024-06-20", "created": "@CREATED@",
        "data": {"object": pi}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": "@REQ@", "idempotency_key": "@IDEM@"},
        "type": "payment_intent.succeeded",
    }
    text = json.dumps(event, indent=2)
    for key in ("AMOUNT", "CREATED"):
        text = text.replace('"@%s@"' % key, "@%s@" % key)
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--count", type=int, required=True, help="events per thread")
    ap.add_argument("--only-thread", type=int, default=-1, help="write only this thread's file")
    ap.add_argument("--tag", required=True, help="run tag, alphanumeric, makes ids unique across runs")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--secret", required=True)
    ap.add_argument("--campaign", default="bench-campaign")
    ap.add_argument("--currency", default="chf")
    a = ap.parse_args()
    assert a.tag.isalnum()

    tpl = template(a.campaign, a.currency)
    key = a.secret.encode()
    now = int(time.time())
    head = ("POST /webhooks/stripe HTTP/1.1\r\nHost: %s:%d\r\n"
            "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
            "Content-Type: application/json; charset=utf-8\r\n" % (a.host, a.port))
    total_bytes = 0
    for t in range(a.threads):
        if a.only_thread >= 0 and t != a.only_thread:
            continue
        parts = []
        for i in range(a.count):
            # 24 characters after the prefix, like Stripe's ids; unique per tag/thread/counter.
            uid = "%s%02d%0*d" % (a.tag, t, 22 - len(a.tag), i)
            body = (tpl.replace("@EVT@", "evt_" + uid)
                       .replace("@PI@", "pi_" + uid)
                       .replace("@CH@", "ch_" + uid)
                       .replace("@REQ@", "req_" + uid)
                       .replace("@IDEM@", uid)
                       .replace("@AMOUNT@", str(1000 + i % 9000))
                       .replace("@CREATED@", str(now))).encode()
            sig = hmac.new(key, b"%d.%s" % (now, body), hashlib.sha256).hexdigest()
            req = (head + "Stripe-Signature: t=%d,v1=%s\r\nContent-Length: %d\r\n\r\n" % (now, sig, len(body))).encode() + body
            parts.append(b"%08d" % len(req))
            parts.append(req)
            total_bytes += len(body)
        with open("%s-%d.req" % (a.out, t), "wb") as f:
            f.write(b"".join(parts))
    n = (1 if a.only_thread >= 0 else a.threads) * a.count
    print("%d %d" % (n, total_bytes // max(n, 1)))


if __name__ == "__main__":
    main()
