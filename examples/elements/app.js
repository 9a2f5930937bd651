// The app's own card form: the server (Tollgate's checkout) chooses the price and creates the
// subscription or PaymentIntent; the browser only confirms it with Stripe.js, which runs
// 3-D Secure itself. Access and receipts follow Stripe's webhooks, never this page.
const $ = (id) => document.getElementById(id);
const say = (text) => { $("message").textContent = text; };
const settings = ["checkout-url", "publishable-key", "token", "what", "target-id", "reference"];
let stripe, elements, started;

for (const id of settings) {  // kept between visits (and across Stripe's return redirect)
  const kept = localStorage.getItem(`tollgate-example:${id}`);
  if (kept) $(id).value = kept;
  $(id).addEventListener("change", () => localStorage.setItem(`tollgate-example:${id}`, $(id).value));
}

async function call(path, body) {
  const answer = await fetch($("checkout-url").value.replace(/\/$/, "") + path, {
    method: "POST",
    headers: {
      "Authorization": `Bearer ${$("token").value.trim()}`,
      "Content-Type": "application/json",
      // One key per attempt: a retried request gets the same subscription or intent back.
      "Idempotency-Key": started.key,
    },
    body: JSON.stringify(body),
  });
  const json = await answer.json();
  if (!answer.ok) throw new Error(`${answer.status} ${json.error.code}: ${json.error.message}`);
  return json;
}

$("setup").addEventListener("submit", async (event) => {
  event.preventDefault();
  started = { key: crypto.randomUUID(), what: $("what").value };
  try {
    let answer;
    if (started.what === "membership") {
      const body = { tier_id: $("target-id").value.trim() };
      if ($("promotion-code").value.trim()) body.promotion_code = $("promotion-code").value.trim();
      answer = await call("/checkout/subscriptions", body);
      started.id = answer.subscription_id;
      started.intentType = answer.intent_type;  // "setup": a free trial, save the card for its end
      if (!answer.client_secret) {  // a coupon paid the whole first invoice
        say(`Subscription ${answer.subscription_id} is ${answer.status}: nothing to pay now.`);
        return;
      }
    } else {
      answer = await call("/purchases/payment-intents", {
        item_id: $("target-id").value.trim(),
        reference: $("reference").value.trim(),
      });
      started.id = answer.payment_intent_id;
    }
    localStorage.setItem("tollgate-example:started", JSON.stringify(started));
    stripe = Stripe($("publishable-key").value.trim());
    elements = stripe.elements({ clientSecret: answer.client_secret });
    elements.create("payment").mount("#payment");
    $("pay").classList.remove("hidden");
    say(`Created ${started.id}; enter a test card (4242 4242 4242 4242, or 4000 0027 6000 3184 for 3-D Secure).`);
  } catch (error) {
    say(String(error));
  }
});

$("pay").addEventListener("submit", async (event) => {
  event.preventDefault();
  // Stripe.js shows the 3-D Secure challenge when the bank asks for one, then returns here.
  // A trial has nothing to pay now: its SetupIntent saves the card the trial's end bills.
  const params = { elements, confirmParams: { return_url: window.location.href.split("?")[0] } };
  const { error } = started.intentType === "setup"
    ? await stripe.confirmSetup(params)
    : await stripe.confirmPayment(params);
  if (error) say(`${error.code || error.type}: ${error.message} (the card can be changed and paid again)`);
});

async function afterReturn() {
  const params = new URLSearchParams(window.location.search);
  if (!params.get("redirect_status")) return;
  started = JSON.parse(localStorage.getItem("tollgate-example:started") || "{}");
  say(`Stripe says: ${params.get("redirect_status")}. Tollgate grants access and sends the ` +
      "receipt once Stripe's webhooks arrive (a few seconds).");
  if (started.what === "purchase" && params.get("redirect_status") === "succeeded") {
    $("claim").classList.remove("hidden");
  }
}

$("claim").addEventListener("click", async () => {
  try {
    const claimed = await call(`/purchases/${started.id}/claim`, { reference: $("reference").value.trim() });
    say(`Claimed: ${JSON.stringify(claimed)}`);
  } catch (error) {
    say(`${error} (402: not paid yet — try again in a moment; 409: claimed already)`);
  }
});

afterReturn();
