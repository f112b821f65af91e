// Subscribes this browser to jobdesk's Web Push (PushManager.subscribe with the server's VAPID key) and
// registers the subscription with the server, or undoes both.
(function () {
  const box = document.getElementById("push");
  const status = document.getElementById("push-status");
  const say = (text) => { status.textContent = text; };

  function keyBytes(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function send(method, body) {
    return fetch(box.dataset.url, {
      method, credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRFToken": box.dataset.csrf },
    }).then(async (answer) => {
      if (!answer.ok && answer.status !== 404) {
        const error = await answer.json().catch(() => ({}));
        throw new Error(error.message || `HTTP ${answer.status}`);
      }
    });
  }

  async function on() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) return say("This browser has no Web Push.");
    if ((await Notification.requestPermission()) !== "granted") return say("Notifications are blocked for this site.");
    const registration = await navigator.serviceWorker.register(box.dataset.worker);
    await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(box.dataset.key),
    });
    await send("POST", subscription.toJSON());
    say("Push notifications are on for this browser.");
  }

  async function off() {
    const registration = await navigator.serviceWorker.getRegistration(box.dataset.worker);
    const subscription = registration && (await registration.pushManager.getSubscription());
    if (!subscription) return say("This browser was not subscribed.");
    await send("DELETE", { endpoint: subscription.endpoint });
    await subscription.unsubscribe();
    say("Push notifications are off for this browser.");
  }

  document.getElementById("push-on").addEventListener("click", () => on().catch((e) => say(`Failed: ${e.message}`)));
  document.getElementById("push-off").addEventListener("click", () => off().catch((e) => say(`Failed: ${e.message}`)));
})();
