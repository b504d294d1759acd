// Klaro 0.7.22 on the bench page, set up like the demo's Consentry config
// (pkg-config/examples/landing.json): the same three categories (Klaro calls
// them purposes, each holding one service), the same cookies, the same button
// labels and privacy-policy link, the stock English texts otherwise (they are
// inside klaro.js). This is the site's config, so the bench serves it but
// does not count it. klaro.js reads it from `window.klaroConfig`.
window.klaroConfig = {
  version: 1,
  elementID: 'klaro',
  storageMethod: 'cookie',
  cookieName: 'klaro',
  cookieExpiresAfterDays: 182,
  default: false,
  mustConsent: false,
  // "Accept all" on the notice, as the other two banners have.
  acceptAll: true,
  hideDeclineAll: false,
  hideLearnMore: false,
  noticeAsModal: false,
  groupByPurpose: true,
  htmlTexts: false,
  privacyPolicy: '/privacy.html',
  translations: {
    en: {
      ok: 'Accept all',
      acceptAll: 'Accept all',
      decline: 'Reject all',
      save: 'Save choices',
      consentNotice: {
        title: 'We value your privacy',
        description:
          'We use cookies to run this site and, if you agree, for {purposes}. You can change or withdraw your choice at any time.',
        learnMore: 'Customize',
      },
      consentModal: {
        title: 'Privacy preferences',
        description: 'Choose which optional categories this site may use.',
      },
      purposes: {
        necessary: {
          title: 'Strictly necessary',
          description: 'Keeps the site working and remembers your privacy choice. These cannot be turned off.',
        },
        analytics: {
          title: 'Analytics',
          description: 'Counts visits and shows us which pages are read, so we can improve them. The data is aggregated.',
        },
        marketing: {
          title: 'Marketing and embedded media',
          description: 'Lets video platforms and advertisers recognise you across sites to show you their content and ads.',
        },
      },
      consent: { title: 'Your privacy choice', description: 'Remembers your privacy choice (cookie "klaro", 6 months).' },
      analytics: { title: 'ACME Analytics', description: 'acme_visitor (1 year), acme_session_* (30 minutes), this site.' },
      media: { title: 'Video and ads', description: 'VISITOR_INFO1_LIVE (YouTube, 6 months), acme_ads (this site, 90 days).' },
    },
  },
  services: [
    { name: 'consent', purposes: ['necessary'], required: true },
    // The bench page's gated script is `data-name="analytics"`.
    { name: 'analytics', purposes: ['analytics'], cookies: [/^acme_visitor$/, /^acme_session_/] },
    { name: 'media', purposes: ['marketing'], cookies: ['VISITOR_INFO1_LIVE', 'acme_ads'] },
  ],
};
