// The site root: open the first page the signed-in person may see.

import { allowedPages, startPage } from "../layout.js";
import { $ } from "../dom.js";

const who = await startPage(null);
if (who) {
  const pages = allowedPages(who);
  if (pages.length) location.replace(pages[0].href);
  else $("#home-message").textContent = "Your account has no roles yet. Ask your LineGuard administrator for access.";
}
