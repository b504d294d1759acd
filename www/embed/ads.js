// Stand-in for a third-party campaign tag. It must run only after the visitor
// allows the "marketing" category; the consent widget releases it.
(function () {
  document.cookie = 'acme_ads=1; path=/; max-age=7776000; SameSite=Lax';
  window.acmeAdsLoaded = true;
})();
