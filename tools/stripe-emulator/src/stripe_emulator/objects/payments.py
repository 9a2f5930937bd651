"""Payment intents, charges, balance transactions, refunds, disputes, Radar and money movement."""

import hashlib
import uuid
from typing import Any

from stripe_emulator.ids import new_id, random_token
from stripe_emulator.objects.catalog import EMPTY_ADDRESS
from stripe_emulator.store import StripeObject

EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


def payment_intent(
    *,
    created: int,
    amount: int,
    currency: str,
    customer: str | None,
    description: str | None,
    metadata: dict[str, str],
    automatic_payment_methods: dict[str, Any] | None = None,
    setup_future_usage: str | None = None,
    receipt_email: str | None = None,
) -> StripeObject:
    intent_id = new_id("pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": automatic_payment_methods,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{random_token(25)}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": setup_future_usage,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def fingerprint(number: str) -> str:
    """The same card number always has the same fingerprint, as on Stripe."""
    return hashlib.sha256(number.encode()).hexdigest()[:16]


def three_d_secure(*, succeeded: bool) -> dict[str, Any]:
    """The outcome of a 3-D Secure challenge, as on the charge's card details."""
    return {
        "authentication_flow": "challenge",
        "electronic_commerce_indicator": "05" if succeeded else None,
        "exemption_indicator": None,
        "exemption_indicator_applied": False,
        "result": "authenticated" if succeeded else "failed",
        "result_reason": None,
        "transaction_id": str(uuid.uuid4()),
        "version": "2.2.0",
    }


def card_details(
    number: str, brand: str, authentication: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "amount_authorized": None,
        "authorization_code": None,
        "brand": brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "US",
        "exp_month": 12,
        "exp_year": 2034,
        "extended_authorization": {"status": "disabled"},
        "fingerprint": fingerprint(number),
        "funding": "credit",
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "last4": number[-4:],
        "mandate": None,
        "multicapture": {"status": "unavailable"},
        "network": brand,
        "network_token": {"used": False},
        "network_transaction_id": random_token(15),
        "overcapture": {"maximum_amount_capturable": 0, "status": "unavailable"},
        "regulated_status": "unregulated",
        "three_d_secure": authentication,
        "transaction_link_id": None,
        "wallet": None,
    }


def payment_method(
    *, created: int, number: str, brand: str, email: str | None, customer: str | None
) -> StripeObject:
    """A card PaymentMethod (the card number itself stays private)."""
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": dict(EMPTY_ADDRESS),
            "email": email,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked",
            },
            "country": "US",
            "display_brand": brand,
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": fingerprint(number),
            "funding": "credit",
            "generated_from": None,
            "last4": number[-4:],
            "networks": {"available": [brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": customer,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def charge(
    *,
    created: int,
    amount: int,
    currency: str,
    customer: str | None,
    payment_intent: str,
    payment_method: str,
    card: dict[str, Any],
    description: str | None,
    metadata: dict[str, str],
    billing_details: dict[str, Any],
    receipt_email: str | None,
    outcome: dict[str, Any],
    failure_code: str | None,
    failure_message: str | None,
) -> StripeObject:
    charge_id = new_id("ch")
    succeeded = failure_code is None
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if succeeded else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": billing_details,
        "calculated_statement_descriptor": "TOLLGATE",
        "captured": succeeded,
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "fraud_details": {},
        "livemode": False,
        "metadata": metadata,
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": succeeded,
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "payment_method_details": {"card": card, "type": "card"},
        "radar_options": {},
        "receipt_email": receipt_email,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if succeeded else "failed",
        "transfer_data": None,
        "transfer_group": None,
    }


def outcome(
    *, succeeded: bool, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    return {
        "advice_code": None if succeeded else "try_again_later",
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network" if succeeded else "declined_by_network",
        "reason": reason,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete." if succeeded else message,
        "type": "authorized" if succeeded else "issuer_declined",
    }


def balance_transaction(
    *,
    created: int,
    amount: int,
    fee: int,
    currency: str,
    source: str,
    type: str,
    reporting_category: str,
    description: str | None,
    fee_description: str | None = None,
) -> StripeObject:
    fee_details = []
    if fee:
        fee_details.append(
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": fee_description or "Stripe processing fees",
                "type": "stripe_fee",
            }
        )
    return {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created + 2 * 86400,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": "pending",
        "type": type,
    }


def refund(
    *,
    created: int,
    amount: int,
    charge: str,
    payment_intent: str | None,
    currency: str,
    reason: str | None,
    metadata: dict[str, str],
    balance_transaction: str,
) -> StripeObject:
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "charge": charge,
        "created": created,
        "currency": currency,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": metadata,
        "payment_intent": payment_intent,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def dispute(
    *,
    created: int,
    charge: StripeObject,
    amount: int,
    reason: str,
    brand: str,
) -> StripeObject:
    evidence: dict[str, Any] = dict.fromkeys(EVIDENCE_FIELDS)
    evidence["enhanced_evidence"] = {}
    return {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": created + 7 * 86400,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": brand,
                "case_type": "chargeback",
                "network_reason_code": "10.4",
            },
            "type": "card",
        },
        "reason": reason,
        "status": "needs_response",
    }


def early_fraud_warning(*, created: int, charge: StripeObject, fraud_type: str) -> StripeObject:
    return {
        "id": new_id("issfr"),
        "object": "radar.early_fraud_warning",
        "actionable": True,
        "charge": charge["id"],
        "created": created,
        "fraud_type": fraud_type,
        "livemode": False,
        "payment_intent": charge["payment_intent"],
    }


def review(*, created: int, charge: StripeObject, opened_reason: str) -> StripeObject:
    return {
        "id": new_id("prv"),
        "object": "review",
        "billing_zip": None,
        "charge": charge["id"],
        "closed_reason": None,
        "created": created,
        "ip_address": None,
        "ip_address_location": None,
        "livemode": False,
        "open": True,
        "opened_reason": opened_reason,
        "payment_intent": charge["payment_intent"],
        "reason": opened_reason,
        "session": None,
    }


def transfer(
    *,
    created: int,
    amount: int,
    currency: str,
    destination: str,
    description: str | None,
    transfer_group: str | None,
    metadata: dict[str, str],
    balance_transaction: str,
) -> StripeObject:
    transfer_id = new_id("tr")
    return {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": description,
        "destination": destination,
        "destination_payment": new_id("py", 14),
        "livemode": False,
        "metadata": metadata,
        "reversals": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/transfers/{transfer_id}/reversals",
        },
        "reversed": False,
        "source_transaction": None,
        "source_type": "card",
        "transfer_group": transfer_group,
    }


def payout(
    *,
    created: int,
    amount: int,
    currency: str,
    description: str | None,
    method: str,
    metadata: dict[str, str],
    balance_transaction: str,
) -> StripeObject:
    return {
        "id": new_id("po"),
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": created + 2 * 86400,
        "automatic": False,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": description,
        "destination": new_id("ba"),
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": metadata,
        "method": method,
        "original_payout": None,
        "payout_method": None,
        "reconciliation_status": "not_applicable",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": "pending",
        "trace_id": {"status": "pending", "value": None},
        "type": "bank_account",
    }
