// jobdesk's push service worker: shows the messages of one push (a batch) as one notification.
self.addEventListener("push", (event) => {
  let messages = [];
  try { messages = (event.data && event.data.json().messages) || []; } catch (e) { messages = []; }
  if (!messages.length) return;
  const last = messages[messages.length - 1];
  const title = messages.length === 1 ? last.title : `${messages.length} notifications from jobdesk`;
  const body = messages.length === 1 ? last.body : messages.map((m) => m.title).join("\n");
  event.waitUntil(self.registration.showNotification(title, { body, data: { url: last.url || "/panel/" } }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(clients.openWindow(event.notification.data.url));
});
