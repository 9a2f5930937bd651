"""The hosted invoice page (`hosted_invoice_url`) and the invoice PDF (`invoice_pdf`) of every
finalized invoice, so the links Stripe hands out work in development: the same content twice,
as HTML and as a PDF made with fpdf2."""

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from stripe_emulator.emulator import Emulator
from stripe_emulator.pages import html_page, money
from stripe_emulator.store import StripeObject

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class InvoiceDocument:
    """What an invoice's page and PDF say."""

    title: str
    facts: list[tuple[str, str]]
    """Label and value: number, status, dates, who is billed, the description."""
    lines: list[tuple[str, str, str]]
    """Description, quantity and amount of each line."""
    totals: list[tuple[str, str]]
    footer: str | None


def _date(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def document(invoice: StripeObject) -> InvoiceDocument:
    """The invoice as its page and PDF show it."""
    currency = invoice["currency"]
    transitions = invoice["status_transitions"]
    facts = [
        ("Invoice number", invoice["number"] or ""),
        ("Status", invoice["status"]),
        ("Date of issue", _date(transitions["finalized_at"] or invoice["created"])),
        ("Paid on", _date(transitions["paid_at"])),
        ("Billed to", invoice["customer_email"] or invoice["customer_name"] or ""),
        ("Description", invoice["description"] or ""),
    ]
    lines = [
        (line["description"] or "", str(line["quantity"] or ""), money(line["amount"], currency))
        for line in invoice["lines"]["data"]
    ]
    discount = sum(entry["amount"] for entry in invoice["total_discount_amounts"] or [])
    totals = [("Subtotal", money(invoice["subtotal"], currency))]
    if discount:
        totals.append(("Discount", "-" + money(discount, currency)))
    totals += [
        ("Total", money(invoice["total"], currency)),
        ("Amount paid", money(invoice["amount_paid"], currency)),
        ("Amount due", money(invoice["amount_remaining"], currency)),
    ]
    return InvoiceDocument(
        title=f"Invoice {invoice['number']}",
        facts=[(label, value) for label, value in facts if value],
        lines=lines,
        totals=totals,
        footer=invoice["footer"],
    )


def _finalized(request: Request, invoice_id: str) -> InvoiceDocument | None:
    """The document of a finalized invoice (a draft has no page yet), or None."""
    emulator: Emulator = request.app.state.emulator
    with emulator.store.lock:
        invoice = emulator.store.get(invoice_id)
        if invoice is None or invoice.get("object") != "invoice":
            return None
        if invoice["hosted_invoice_url"] is None:
            return None
        return document(invoice)


def _not_found() -> Response:
    return html_page("Not found", "<h1>Invoice not found</h1>", 404)


@router.get("/invoices/{invoice_id}")
async def invoice_page(request: Request, invoice_id: str) -> Response:
    """The hosted invoice page: number, status, dates, lines, totals and a link to the PDF."""
    found = _finalized(request, invoice_id)
    if found is None:
        return _not_found()
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in found.facts)
    lines = "".join(
        f"<tr><td>{escape(description)}</td><td class='amount'>{escape(quantity)}</td>"
        f"<td class='amount'>{escape(amount)}</td></tr>"
        for description, quantity, amount in found.lines
    )
    totals = "".join(
        f"<tr><td>{escape(k)}</td><td class='amount'>{escape(v)}</td></tr>" for k, v in found.totals
    )
    footer = f"<p>{escape(found.footer)}</p>" if found.footer else ""
    body = (
        f"<h1>{escape(found.title)}</h1><p>Test mode</p><table id='facts'>{facts}</table>"
        "<h2>Items</h2><table id='lines'><tr><th>Description</th><th class='amount'>Qty</th>"
        f"<th class='amount'>Amount</th></tr>{lines}</table>"
        f"<table id='totals'>{totals}</table>{footer}"
        f"<p><a id='pdf' href='{escape(request.url.path)}/pdf'>Download PDF</a></p>"
    )
    return html_page(found.title, body)


@router.get("/invoices/{invoice_id}/pdf")
async def invoice_pdf(request: Request, invoice_id: str) -> Response:
    """The invoice as a PDF, with the content of its page."""
    found = _finalized(request, invoice_id)
    if found is None:
        return _not_found()
    filename = found.title.replace(" ", "-")
    return Response(
        render_pdf(found),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}.pdf"'},
    )


def _latin1(text: str) -> str:
    # The PDF's built-in Helvetica covers Latin-1 only; anything else shows as "?".
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(found: InvoiceDocument) -> bytes:
    """The document as an A4 PDF."""
    pdf = FPDF()
    pdf.set_title(_latin1(found.title))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(text=_latin1(found.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=10)
    pdf.cell(text="Test mode", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    for label, value in found.facts:
        pdf.cell(45, 6, _latin1(label))
        pdf.multi_cell(0, 6, _latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    with pdf.table(col_widths=(110, 20, 40), text_align=("LEFT", "RIGHT", "RIGHT")) as table:
        table.row(("Description", "Qty", "Amount"))
        for row in found.lines:
            table.row(tuple(_latin1(cell) for cell in row))
    pdf.ln(4)
    for label, value in found.totals:
        pdf.cell(130, 6, _latin1(label))
        pdf.cell(40, 6, _latin1(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if found.footer:
        pdf.ln(4)
        pdf.multi_cell(0, 5, _latin1(found.footer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
