// vanilla-cookieconsent 3.1.0 on the bench page, set up like the demo's
// Consentry config (pkg-config/examples/landing.json): the same three
// categories with the same cookie tables, the same button labels and the same
// privacy-policy link, texts inline (no language file). This is the site's
// config, so the bench serves it but does not count it.
window.CookieConsent.run({
  // Its default hides the banner from automated browsers (navigator.webdriver),
  // which is what the bench drives.
  hideFromBots: false,
  cookie: { name: 'cc_cookie', expiresAfterDays: 182 },
  categories: {
    necessary: { enabled: true, readOnly: true },
    analytics: { autoClear: { cookies: [{ name: 'acme_visitor' }, { name: /^acme_session_/ }] } },
    marketing: { autoClear: { cookies: [{ name: 'VISITOR_INFO1_LIVE' }, { name: 'acme_ads' }] } },
  },
  language: {
    default: 'en',
    translations: {
      en: {
        consentModal: {
          title: 'We value your privacy',
          description:
            'We use cookies to run this site and, if you agree, to measure visits and show embedded media. <a href="/privacy.html">Privacy policy</a>',
          acceptAllBtn: 'Accept all',
          acceptNecessaryBtn: 'Reject all',
          showPreferencesBtn: 'Customize',
        },
        preferencesModal: {
          title: 'Privacy preferences',
          acceptAllBtn: 'Accept all',
          acceptNecessaryBtn: 'Reject all',
          savePreferencesBtn: 'Save choices',
          closeIconLabel: 'Close',
          sections: [
            {
              title: 'Your choices',
              description: 'Choose which optional categories this site may use. <a href="/privacy.html">Privacy policy</a>',
            },
            {
              title: 'Strictly necessary',
              description: 'Keeps the site working and remembers your privacy choice. These cannot be turned off.',
              linkedCategory: 'necessary',
              cookieTable: {
                headers: { name: 'Name', provider: 'Provider', purpose: 'Purpose', duration: 'Duration' },
                body: [
                  { name: 'cc_cookie', provider: 'This site', purpose: 'Remembers your privacy choice', duration: '6 months' },
                ],
              },
            },
            {
              title: 'Analytics',
              description: 'Counts visits and shows us which pages are read, so we can improve them. The data is aggregated.',
              linkedCategory: 'analytics',
              cookieTable: {
                headers: { name: 'Name', provider: 'Provider', purpose: 'Purpose', duration: 'Duration' },
                body: [
                  { name: 'acme_visitor', provider: 'This site', purpose: 'Tells a returning browser apart from a new one', duration: '1 year' },
                  { name: 'acme_session_*', provider: 'This site', purpose: 'Groups page views into one visit', duration: '30 minutes' },
                ],
              },
            },
            {
              title: 'Marketing and embedded media',
              description: 'Lets video platforms and advertisers recognise you across sites to show you their content and ads.',
              linkedCategory: 'marketing',
              cookieTable: {
                headers: { name: 'Name', provider: 'Provider', purpose: 'Purpose', duration: 'Duration' },
                body: [
                  { name: 'VISITOR_INFO1_LIVE', provider: 'YouTube', purpose: 'Estimates bandwidth and remembers player preferences', duration: '6 months' },
                  { name: 'acme_ads', provider: 'This site', purpose: 'Measures which campaign brought you here', duration: '90 days' },
                ],
              },
            },
          ],
        },
      },
    },
  },
});
