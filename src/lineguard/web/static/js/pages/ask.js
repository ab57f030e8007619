// The Ask page: the plant assistant. The workflow picker lists only the workflows the
// person may use (GET /assistant/workflows); every answer comes from
// POST /assistant/ask, which decides what may be read before reading anything. The page
// shows the scope banner, each sentence with its citation numbers, and the cited
// records (type, key, category, lines). Text goes in through textContent only.

import { api } from "../api.js";
import { $, clear, el, empty, explain, status } from "../dom.js";
import { startPage } from "../layout.js";

function sentence(s) {
  return el("p", { class: "answer-sentence" }, s.text, " ", s.cites.map((n) => el("sup", {}, `[${n}]`)));
}

function citation(c) {
  const where = c.lines && c.lines.length ? c.lines.join(", ") : "site";
  return el(
    "li",
    { id: `cite-${c.n}`, dataset: { record: c.record_id } },
    el("strong", {}, `${c.record_type.replaceAll("_", " ")} ${c.source_key}`),
    `${c.title !== c.source_key ? ` — ${c.title}` : ""} (${c.category.replaceAll("_", " ")}, ${where})`,
  );
}

function show(answer) {
  $("#ask-scope").textContent = answer.scope;
  const body = answer.sentences.length ? answer.sentences.map(sentence) : [el("p", {}, answer.answer)];
  if (answer.recommendation_id) {
    body.push(el("p", { class: "note" }, `Proposed for review as ${answer.recommendation_id}.`));
  }
  clear($("#ask-answer"), body);
  clear($("#ask-citations"), answer.citations.map(citation));
}

async function main() {
  const who = await startPage(null);
  if (!who) return;
  const flows = await api("/assistant/workflows");
  const picker = $("#ask-workflow");
  if (!flows.length) {
    clear($("#ask-answer"), empty("No assistant workflow is granted to your roles."));
    $("#ask-submit").disabled = true;
    return;
  }
  clear(picker, flows.map((f) => el("option", { value: f.name }, f.title)));
  $("#ask-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = $("#ask-question").value.trim();
    if (!question) return;
    status("Asking…");
    try {
      show(await api("/assistant/ask", { method: "POST", body: { question, workflow: picker.value } }));
      status("");
    } catch (error) {
      clear($("#ask-answer"), el("p", { class: "error" }, explain(error, "The question was not answered")));
      clear($("#ask-citations"));
      $("#ask-scope").textContent = "";
      status("");
    }
  });
}

main();
