"""Checkout sessions, subscriptions, invoices, portal sessions and webhook endpoints."""

from typing import Any

from stripe_emulator.ids import new_id, random_token
from stripe_emulator.objects.catalog import EMPTY_ADDRESS, plan
from stripe_emulator.store import StripeObject


def checkout_session(
    *,
    created: int,
    base_url: str,
    mode: str,
    currency: str,
    amount_subtotal: int,
    amount_discount: int,
    customer: str | None,
    customer_email: str | None,
    client_reference_id: str | None,
    metadata: dict[str, str],
    success_url: str | None,
    cancel_url: str | None,
    expires_at: int,
    allow_promotion_codes: bool | None,
    discounts: list[dict[str, Any]],
    invoice_creation: StripeObject | None = None,
) -> StripeObject:
    session_id = new_id("cs_test", 58)
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": allow_promotion_codes,
        "amount_subtotal": amount_subtotal,
        "amount_total": amount_subtotal - amount_discount,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": customer,
        "customer_account": None,
        "customer_creation": None if customer else "if_required",
        "customer_details": None,
        "customer_email": customer_email,
        "discounts": discounts,
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": invoice_creation,
        "livemode": False,
        "locale": None,
        "managed_payments": {"enabled": False},
        "metadata": metadata,
        "mode": mode,
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always" if mode == "subscription" else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": success_url,
        "total_details": {
            "amount_discount": amount_discount,
            "amount_shipping": 0,
            "amount_tax": 0,
        },
        "ui_mode": "hosted",
        "url": f"{base_url}/checkout/pay/{session_id}",
        "wallet_options": None,
    }


def invoice_creation(
    *, enabled: bool, description: str | None, footer: str | None, metadata: dict[str, str]
) -> StripeObject:
    """A payment-mode session's `invoice_creation`: whether a paid invoice follows the payment,
    and what it is to say."""
    return {
        "enabled": enabled,
        "invoice_data": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": description,
            "footer": footer,
            "issuer": None,
            "metadata": metadata,
            "rendering_options": None,
        },
    }


def customer_details(email: str | None, name: str | None) -> dict[str, Any]:
    return {
        "address": dict(EMPTY_ADDRESS),
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def session_item(
    *, item_id: str, price: StripeObject, product_name: str, quantity: int, amount_discount: int
) -> StripeObject:
    subtotal = price["unit_amount"] * quantity
    return {
        "id": item_id,
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": amount_discount,
        "amount_subtotal": subtotal,
        "amount_tax": 0,
        "amount_total": subtotal - amount_discount,
        "currency": price["currency"],
        "description": product_name,
        "metadata": {},
        "price": price,
        "quantity": quantity,
    }


def subscription(
    *,
    created: int,
    customer: str,
    currency: str,
    metadata: dict[str, str],
    discounts: list[str],
    default_payment_method: str | None,
    save_default_payment_method: str = "off",
) -> StripeObject:
    subscription_id = new_id("sub")
    return {
        "id": subscription_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "flexible", "flexible": {"proration_discounts": "included"}},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": default_payment_method,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": discounts,
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata,
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": save_default_payment_method,
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": "active",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


def subscription_item(
    *,
    created: int,
    subscription: str,
    price: StripeObject,
    quantity: int,
    period_start: int,
    period_end: int,
) -> StripeObject:
    return {
        "id": new_id("si", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": period_end,
        "current_period_start": period_start,
        "discounts": [],
        "metadata": {},
        "plan": plan(price),
        "price": price,
        "quantity": quantity,
        "subscription": subscription,
        "tax_rates": [],
    }


def invoice(
    *,
    created: int,
    customer: StripeObject,
    subscription: StripeObject | None,
    billing_reason: str,
    period_start: int,
    period_end: int,
    discounts: list[str],
    currency: str | None = None,
) -> StripeObject:
    """A draft invoice of the subscription, or (without one) a one-off invoice in `currency`."""
    parent = None
    if subscription is not None:
        currency = subscription["currency"]
        parent = {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription["metadata"]),
                "subscription": subscription["id"],
            },
            "type": "subscription_details",
        }
    return {
        "id": new_id("in"),
        "object": "invoice",
        "account_country": "US",
        "account_name": "Tollgate (emulated)",
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "custom_fields": None,
        "customer": customer["id"],
        "customer_account": None,
        "customer_address": None,
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": discounts,
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {"object": "list", "data": [], "has_more": False, "url": ""},
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": parent,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": None,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }


def invoice_line(
    *,
    invoice_id: str,
    item: StripeObject,
    subscription_id: str,
    amount_discount: int,
    discounts: list[str],
    description: str,
    metadata: dict[str, str],
) -> StripeObject:
    """A line billing a subscription item for its current period."""
    return _line(
        invoice_id=invoice_id,
        price=item["price"],
        quantity=item["quantity"],
        amount_discount=amount_discount,
        discounts=discounts,
        description=description,
        metadata=metadata,
        parent={
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription_id,
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        period={"end": item["current_period_end"], "start": item["current_period_start"]},
        subscription_id=subscription_id,
    )


def one_time_line(
    *,
    invoice_id: str,
    price: StripeObject,
    quantity: int,
    amount_discount: int,
    discounts: list[str],
    description: str,
    at: int,
) -> StripeObject:
    """A line of a one-off invoice: an invoice item of a one-time price, billed at `at`."""
    parent = {
        "invoice_item_details": {
            "invoice_item": new_id("ii"),
            "proration": False,
            "proration_details": {"credited_items": None},
            "subscription": None,
        },
        "subscription_item_details": None,
        "type": "invoice_item_details",
    }
    return _line(
        invoice_id=invoice_id,
        price=price,
        quantity=quantity,
        amount_discount=amount_discount,
        discounts=discounts,
        description=description,
        metadata={},
        parent=parent,
        period={"end": at, "start": at},
        subscription_id=None,
    )


def _line(
    *,
    invoice_id: str,
    price: StripeObject,
    quantity: int,
    amount_discount: int,
    discounts: list[str],
    description: str,
    metadata: dict[str, str],
    parent: StripeObject,
    period: dict[str, int],
    subscription_id: str | None,
) -> StripeObject:
    subtotal = price["unit_amount"] * quantity
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": subtotal,
        "currency": price["currency"],
        "description": description,
        "discount_amounts": [
            {"amount": amount_discount, "discount": discount} for discount in discounts
        ],
        "discountable": True,
        "discounts": discounts,
        "invoice": invoice_id,
        "livemode": False,
        "metadata": metadata,
        "parent": parent,
        "period": period,
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": subscription_id,
        "subtotal": subtotal,
        "taxes": [],
    }


def invoice_payment(*, created: int, invoice: StripeObject, payment_intent: str) -> StripeObject:
    """The invoice's default payment, open until its payment intent succeeds."""
    return {
        "id": new_id("inpay"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": invoice["amount_due"],
        "created": created,
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": payment_intent, "type": "payment_intent"},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }


def portal_session(
    *, created: int, base_url: str, customer: str, return_url: str | None, locale: str | None
) -> StripeObject:
    session_id = new_id("bps")
    return {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": new_id("bpc"),
        "created": created,
        "customer": customer,
        "customer_account": None,
        "flow": None,
        "livemode": False,
        "locale": locale,
        "on_behalf_of": None,
        "return_url": return_url,
        "url": f"{base_url}/billing_portal/session/{session_id}",
    }


def webhook_endpoint(
    *,
    created: int,
    url: str,
    enabled_events: list[str],
    description: str | None,
    metadata: dict[str, str],
    api_version: str | None,
) -> StripeObject:
    return {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": None,
        "created": created,
        "description": description,
        "enabled_events": enabled_events,
        "livemode": False,
        "metadata": metadata,
        "status": "enabled",
        "url": url,
    }


def webhook_secret() -> str:
    return f"whsec_{random_token(32)}"
