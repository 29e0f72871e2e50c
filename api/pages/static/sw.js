// Service worker of /worker, served at /worker/sw.js with "Service-Worker-Allowed: /worker".
// It keeps the page shell — its HTML, scripts, styles and Leaflet — so the page opens in a
// basement with no signal. Network first, the cache only when the network fails. The API is
// never cached: reports made offline wait in IndexedDB (worker.js) and are sent with their
// idempotency key.
const CACHE = "gridgov-worker-v1";
const SHELL = [
  "/worker",
  "/static/app/app.css",
  "/static/app/common.js",
  "/static/app/worker.js",
  "/static/vendor/leaflet/dist/leaflet.js",
  "/static/vendor/leaflet/dist/leaflet.css",
];

function keep(cache, request, response) {
  // Only whole same-origin answers: never a redirect to /login or an error page.
  if (response.ok && !response.redirected && response.type === "basic") {
    return cache.put(request, response);
  }
  return Promise.resolve();
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) =>
        Promise.all(
          SHELL.map((url) =>
            fetch(url, { credentials: "same-origin" })
              .then((response) => keep(cache, url, response))
              .catch(() => null),
          ),
        ),
      )
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname !== "/worker" && !url.pathname.startsWith("/static/")) return; // API: network only
  event.respondWith(
    fetch(request)
      .then((response) => {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => keep(cache, request, copy));
        return response;
      })
      .catch(() =>
        caches.match(request, { ignoreSearch: true }).then((hit) => hit || Response.error()),
      ),
  );
});
