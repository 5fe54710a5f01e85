// memberseg upload page: pick two files, upload them straight to S3 with the presigned
// POSTs from POST /jobs, follow GET /jobs/{id}, show the summary, chart and downloads.
// Plain JS, no dependencies: it must work offline and locally.
(function () {
  "use strict";

  const ROLES = ["memberships", "orders"];
  const LABEL = { memberships: "memberships", orders: "orders" };
  const TOKEN_KEY = "memberseg.token";
  const POLL_MS = 1000;
  const POLL_LIMIT_MS = 15 * 60 * 1000;
  // Membership statuses in display order, each with its tone: app.css colours a tone (--status-*),
  // the same for the status counts and for the segment bars of that status.
  const STATUS_TONES = { "Active": "active", "Expiring Soon": "expiring", "Expired": "expired", "Inactive": "inactive" };
  // The segments that are one status (default_rules.yaml: membership_status eq ...); others stay neutral.
  const SEGMENT_STATUS = {
    active_membership: "Active", expiring_soon: "Expiring Soon", expired_membership: "Expired", inactive_membership: "Inactive",
  };
  const JOB_ID_SHOWN = 8;
  const RULES_OWNER = "whoever runs memberseg for you";

  const body = document.body;
  const config = {
    auth: body.dataset.auth === "on",
    maxBytes: Number(body.dataset.maxUploadBytes) || 50 * 1024 * 1024,
    extensions: (body.dataset.extensions || ".xlsx,.xlsm,.xls,.csv").split(","),
    asOf: body.dataset.asOf || "",      // the server's starting date (make serve: the demo's); else today here
  };
  const $ = (id) => document.getElementById(id);
  // names: what the job calls each file (POST /jobs uploads.<role>.name: the user's own name, cleaned)
  // intoJob: newer files go into this job (POST /jobs/{id}/uploads); afterRun: the run shown before them
  const state = { files: {}, names: {}, jobId: null, failedRole: null, busy: false, pollTimer: null, pollStarted: 0, hubspotTimer: null,
                  intoJob: null, afterRun: null, shownRun: null };

  class AuthError extends Error {}

  // ---------------------------------------------------------------- formatting
  const number = (n) => Number(n || 0).toLocaleString("en-US");
  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }
  const quoted = (items) => items.map((item) => "“" + item + "”").join(", ");
  const fieldWords = (name) => String(name || "").replace(/_/g, " ");
  function extension(name) {
    const dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot).toLowerCase();
  }

  // ---------------------------------------------------------------- the as-of date
  const pad = (n) => String(n).padStart(2, "0");
  function today() {          // the browser's own day, not UTC's
    const d = new Date();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }
  function resetAsOf() { $("as-of").value = config.asOf || today(); $("as-of-error").textContent = ""; }
  function chosenAsOf() {
    const value = $("as-of").value;
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
    $("as-of-error").textContent = "Pick the day the membership statuses are for.";
    $("as-of").focus();
    return null;
  }
  $("as-of").addEventListener("input", () => { $("as-of-error").textContent = ""; });

  // ---------------------------------------------------------------- auth
  function token() { return sessionStorage.getItem(TOKEN_KEY); }
  function showToken(message) {
    $("token-panel").hidden = false;
    $("upload-panel").hidden = true;
    $("token-error").textContent = message || "";
    $("token-input").value = "";
    $("token-input").focus();
  }
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token-input").value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $("token-panel").hidden = true;
    $("upload-panel").hidden = false;
  });

  async function api(method, path, payload) {
    const headers = {};
    if (token()) headers["Authorization"] = "Bearer " + token();
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
    if (config.auth && (response.status === 401 || response.status === 403)) {
      sessionStorage.removeItem(TOKEN_KEY);
      throw new AuthError("That access token was not accepted. Enter it again.");
    }
    let data = {};
    try { data = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) throw new Error(data.message || "The server answered " + response.status + ".");
    return data;
  }

  // ---------------------------------------------------------------- file choice
  function check(file) {
    const ext = extension(file.name);
    if (!config.extensions.includes(ext)) {
      return "“" + file.name + "” is not a spreadsheet. Use an Excel file (.xlsx, .xls, .xlsm) or a CSV file.";
    }
    if (file.size < 1) return "“" + file.name + "” is empty.";
    if (file.size > config.maxBytes) {
      return "“" + file.name + "” is " + size(file.size) + "; the limit is " + size(config.maxBytes) + ".";
    }
    return null;
  }

  function choose(role, file) {
    if (state.busy || !file) return;
    const zone = $("zone-" + role);
    const problem = check(file);
    $(role + "-error").textContent = problem || "";
    zone.classList.toggle("invalid", Boolean(problem));
    zone.classList.toggle("ready", !problem);
    $(role + "-file").hidden = false;
    $(role + "-name").textContent = file.name;
    $(role + "-size").textContent = size(file.size);
    if (problem) delete state.files[role]; else state.files[role] = file;
    refreshStart();
  }

  function refreshStart() {
    const ready = ROLES.every((r) => state.files[r]);
    $("start").disabled = !ready || state.busy;
    const missing = ROLES.filter((r) => !state.files[r]).map((r) => LABEL[r] + " file");
    $("start-hint").textContent = state.busy ? "" : ready ? "Ready." : "Add the " + missing.join(" and the ") + " to start.";
  }

  ROLES.forEach((role) => {
    const zone = $("zone-" + role);
    const input = $(role + "-input");
    const open = () => { if (!state.busy) input.click(); };
    zone.addEventListener("click", (event) => { if (event.target !== input) open(); });
    zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); }
    });
    input.addEventListener("change", () => { choose(role, input.files[0]); });
    zone.addEventListener("dragover", (event) => { event.preventDefault(); if (!state.busy) zone.classList.add("dragover"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragover");
      if (event.dataTransfer && event.dataTransfer.files.length) choose(role, event.dataTransfer.files[0]);
    });
  });

  // ---------------------------------------------------------------- upload
  function setProgress(role, percent) {
    const pct = Math.max(0, Math.min(100, Math.floor(percent)));
    $(role + "-progress-row").hidden = false;
    $(role + "-progress").setAttribute("aria-valuenow", String(pct));
    $(role + "-progress").firstElementChild.style.width = pct + "%";
    $(role + "-pct").textContent = pct + " %";
  }

  const fileWords = (role, file) => "The " + LABEL[role] + " file “" + file.name + "”";

  function upload(role, file, target) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      Object.entries(target.fields).forEach(([name, value]) => form.append(name, value));
      form.append("file", file);   // S3 wants the file last
      const xhr = new XMLHttpRequest();
      xhr.open("POST", target.url);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) setProgress(role, (event.loaded / event.total) * 99);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          setProgress(role, 100);
          $("zone-" + role).classList.add("done");
          resolve();
        } else {
          const match = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || "");
          reject(new Error(fileWords(role, file) + " was refused by storage" + (match ? ": " + match[1] : " (" + xhr.status + ")") + "."));
        }
      });
      xhr.addEventListener("error", () => reject(new Error(fileWords(role, file) + " could not be uploaded: the connection failed.")));
      xhr.send(form);
    });
  }

  async function start() {
    if (state.busy || !ROLES.every((r) => state.files[r])) return;
    const asOf = chosenAsOf();
    if (!asOf) return;
    state.busy = true;
    refreshStart();
    ROLES.forEach((r) => { $("zone-" + r).classList.add("locked"); $("zone-" + r).setAttribute("aria-disabled", "true"); setProgress(r, 0); });
    showStatus("Preparing the upload…");
    try {
      // the user's own names: the job's messages, error.json and report.json use them
      // newer files into the job on the page, or a new job; either way with the chosen as-of date
      const path = state.intoJob ? "jobs/" + encodeURIComponent(state.intoJob) + "/uploads" : "jobs";
      const job = await api("POST", path, {
        files: Object.fromEntries(ROLES.map((r) => [r, { name: state.files[r].name }])),
        as_of: asOf,
      });
      state.jobId = job.job_id;
      state.names = Object.fromEntries(ROLES.map((r) => [r, (job.uploads[r] && job.uploads[r].name) || state.files[r].name]));
      showJobRef(job.job_id);
      showStatus("Uploading both files…");
      await Promise.all(ROLES.map((r) => upload(r, state.files[r], job.uploads[r])));
      showStatus("Both files uploaded. Waiting for the job to start…");
      state.pollStarted = Date.now();
      poll();
    } catch (error) {
      if (error instanceof AuthError) { resetUploads(); showToken(error.message); return; }
      fail({ message: error.message });
    }
  }
  $("start").addEventListener("click", start);

  // ---------------------------------------------------------------- job reference
  // The job id is for support, not for reading: its first characters, the whole id in the title
  // and on the copy button (or shown in full, selected, where the clipboard is not available).
  function showJobRef(jobId) {
    document.querySelectorAll(".job-ref").forEach((ref) => {
      const code = ref.querySelector("code");
      code.textContent = jobId.slice(0, JOB_ID_SHOWN) + "…";
      code.title = jobId;
      code.dataset.jobId = jobId;
      const copy = ref.querySelector(".copy-id");
      if (copy) copy.textContent = "Copy";
    });
  }
  document.querySelectorAll(".job-ref .copy-id").forEach((button) => {
    button.addEventListener("click", () => {
      const code = button.parentElement.querySelector("code");
      const jobId = code.dataset.jobId || "";
      const showWhole = () => {
        code.textContent = jobId;
        window.getSelection().selectAllChildren(code);
        button.textContent = "Press Ctrl+C to copy";
      };
      if (!navigator.clipboard) { showWhole(); return; }
      navigator.clipboard.writeText(jobId).then(() => { button.textContent = "Copied"; }, showWhole);
    });
  });

  // ---------------------------------------------------------------- job status
  function showStatus(text, tone) {
    $("status-box").hidden = false;
    $("status-box").className = "status-box" + (tone ? " " + tone : "");
    $("status-text").textContent = text;
  }

  async function poll() {
    clearTimeout(state.pollTimer);
    if (!state.jobId) return;
    let job;
    try {
      job = await api("GET", "jobs/" + encodeURIComponent(state.jobId));
    } catch (error) {
      if (error instanceof AuthError) { showToken(error.message); return; }
      job = null;   // a blip: keep polling
    }
    if (job) {
      if (stillAsking(job)) job = { status: "PROCESSING", message: "Answers received. Starting the job again…" };
      if (showsOlderRun(job)) job = { status: "PROCESSING", message: "Both files uploaded. Segmenting your customers again…" };
      body.dataset.jobStatus = job.status;
      if (job.status === "SUCCEEDED") { succeed(job); return; }
      if (job.status === "FAILED" && job.mapping) { showMapping(job); return; }
      if (job.status === "FAILED") { fail(job.error || { message: job.message }); return; }
      showStatus(job.message);
    }
    if (Date.now() - state.pollStarted > POLL_LIMIT_MS) {
      showStatus("This is taking longer than usual. The job is still running; check back later with job " + state.jobId + ".");
      return;
    }
    state.pollTimer = setTimeout(poll, POLL_MS);
  }

  // What the user can do from this page, by error.json's code, beside the message (which stays as it is).
  // Until the page can map columns itself, a message that says "add … in a rules file" becomes
  // what to change in the file, and who can change the job's rules. No advice guesses a value:
  // a wrong guess would give wrong numbers.
  const ADVICE = {
    missing_column: (e) => {
      if (!e.column) {      // the job's rules chose a platform's layout and the file lacks its headers
        return ["Check that you chose the right file: " + quoted(e.missing || []) + " are headers of the export the job's rules expect.",
                "If the rules name the wrong layout, " + RULES_OWNER + " can change them; this page cannot yet."];
      }
      const field = fieldWords(e.column);
      const accepted = e.accepted || [];
      const others = (e.missing || []).slice(1);
      return [
        "If your file has the " + field + " under another header, rename that column to " +
          (accepted.length ? (accepted.length > 1 ? "one of " : "") + quoted(accepted) : "one of the accepted headers above") +
          ", then upload the file again.",
        "If the file has no " + field + " at all, export it again with that column included.",
        ...(e.stand_ins ? ["If the export never has one (payments only, or only who pays now), " + RULES_OWNER +
                           " can describe it in the job's profile instead (" + e.stand_ins.join(" or ") + "); this page cannot yet."] : []),
        ...(others.length ? ["Do the same for the other missing column" + (others.length > 1 ? "s" : "") + ": " +
                             others.map(fieldWords).join(", ") + "."] : []),
        "To have your own header accepted as it is, " + RULES_OWNER + " can add it to the job's rules; this page cannot yet.",
      ];
    },
    contradictory_values: (e) => [
      "Make every value " + (e.column ? "in the column " + quoted([e.column]) + " " : "") +
        "follow one format (for dates: the same order of day and month), then upload the file again.",
      "If the file has to stay as it is, " + RULES_OWNER + " can set how this file is read in the job's rules.",
    ],
    sheet_not_found: () => [
      "Rename the sheet that holds the data to the name the message gives, then upload the file again.",
      "If the job's rules name the wrong sheet, " + RULES_OWNER + " can change them.",
    ],
    mixed_encoding: () => [
      "Open the file in your spreadsheet program and save it again as \"CSV UTF-8\" (in Excel: Save As > CSV UTF-8), then upload that file.",
      "Check the names with accents in the row the message gives: they show which text is garbled.",
    ],
    unknown_encoding: () => [
      "Save the file again as \"CSV UTF-8\" from the program that made it, or export it again, then upload that file.",
    ],
    control_character: () => [
      "Open the file, go to the row the message gives, and retype or delete the cell that holds the invisible character; then upload the file again.",
      "If the file comes from an export, export it again: a damaged download is the usual cause.",
    ],
    too_many_sheets: () => [
      "Move the sheet with the data to the front of the workbook, or delete the sheets you don't need, then upload the file again.",
    ],
    engine_error: () => [
      "This is a fault in memberseg, not in what you did: uploading the same files again will give the same result.",
      "Send the job id above to whoever runs memberseg for you; the files themselves were not changed.",
    ],
    too_large_for_memory: () => [
      "The files are fine, but reading them needed more memory than memberseg had. Ask " + RULES_OWNER +
        " to raise the processing function's memory (FunctionMemoryMB, up to 10,240 MB), or run the job with the memberseg command on a computer with more memory.",
      "Keep each export whole: a customer's totals and tiers come from all of their rows in one file.",
    ],
    unread_column: (e) => [
      "Look at the column " + (e.column ? quoted([e.column]) + " " : "") + "in your file: if some rows are not payments or members (refunds, declined or test payments, another currency), the results would be wrong without it.",
      "If the column changes nothing, delete it from the file and upload the file again.",
      "If it matters, " + RULES_OWNER + " can say what its values mean in the job's profile (or list it under ignore); this page cannot yet.",
    ],
    amount_unit_unstated: () => [
      "Export the amounts in whole currency units (99.00, not 9900), then upload the file again.",
      "Or " + RULES_OWNER + " can set amount_unit: minor in the job's profile; this page cannot yet.",
    ],
    swapped_files: () => [
      "Choose the memberships export as the memberships file and the orders export as the orders file, then start again.",
    ],
    needs_answers: (e) => [
      "memberseg does not know this export's layout yet. It drafted one from the file, and " +
        ((e.questions || []).length || "some") + " thing(s) in it need your answer: what a column or a value means.",
      "Nothing was guessed and no numbers were made. " + RULES_OWNER + " can answer the questions (memberseg map, " +
        "or proposal.json with --answers) and save the profile in the job's rules; then upload the files again.",
    ],
    since_state_later: () => [
      "This job's previous run was as of a later day than the one you picked: a run says what changed since an earlier one. " +
        "Choose “Segment another pair” and upload the files as a new job, or upload them into this job again with that day or a later one.",
    ],
    workbook_too_large: () => [
      "Delete the sheets you don't need. On each remaining sheet press Ctrl+End: if it jumps far past your data, delete those empty rows and columns, save, and upload again.",
    ],
  };

  function showAdvice(error) {
    const lines = ADVICE[error.code] ? ADVICE[error.code](error) : [];
    const list = $("error-advice-list");
    list.replaceChildren(...lines.map((line) => { const li = document.createElement("li"); li.textContent = line; return li; }));
    $("error-advice").hidden = !lines.length;
    $("error-advice").dataset.code = lines.length ? error.code : "";
  }

  // The role of the one file an error names: the file the job called by that name (or, for a name
  // the page did not give, one starting with its role); none when the error names no file, both
  // files (error.files: each file of an error about both), or a name both files share.
  function roleOf(file) {
    const named = ROLES.filter((r) => state.names[r] === file);
    if (named.length) return named.length === 1 ? named[0] : undefined;
    return ROLES.find((r) => String(file || "").toLowerCase().startsWith(r));
  }

  function failedRole(error) {
    const roles = new Set((error.files || [error.file]).map(roleOf));
    return roles.size === 1 ? [...roles][0] : undefined;
  }

  function fail(error) {
    state.busy = false;
    $("upload-panel").classList.add("finished");
    body.dataset.jobStatus = "FAILED";
    $("status-box").hidden = true;
    $("error-panel").hidden = false;
    $("error-text").textContent = error.message || "Something went wrong.";
    $("error-file").textContent = error.file ? "File: " + error.file : "";
    showAdvice(error);
    state.failedRole = failedRole(error);
    $("retry-file").hidden = !state.failedRole || !state.jobId;
    if (state.failedRole) $("retry-file").textContent = "Choose a corrected " + LABEL[state.failedRole] + " file";
    $("start-over").classList.toggle("primary", $("retry-file").hidden);
    $("job-ref-error").hidden = !state.jobId;
    (state.failedRole && state.jobId ? $("retry-file") : $("start-over")).focus();
  }

  function succeed(job) {
    state.busy = false;
    state.afterRun = null;
    state.shownRun = job.run_id || null;
    const s = job.summary;
    showStatus(job.message, "ok");
    $("upload-panel").hidden = true;
    $("result-panel").hidden = false;
    $("result-sub").textContent = s.as_of ? "Statuses as of " + s.as_of : "";
    showJobRef(job.job_id);
    document.querySelectorAll("[data-stat]").forEach((el) => { el.textContent = number(s[el.dataset.stat]); });
    $("stat-rows-note").textContent = "from " + number(s.membership_rows) + " membership rows";
    $("stat-rejected-note").textContent = s.rejected ? "see Needs Attention in the workbook" : "none";
    $("rejected-advice").hidden = !s.rejected;
    renderReadAs(s.inputs || {}, s.swapped);
    $("stat-left-out").textContent = s.hubspot_left_out ? number(s.hubspot_left_out) + " left out (no usable email)" : "all customers included";
    renderStatusCounts(s.status_counts);
    renderChart(s.segments);
    renderDownloads(job.downloads || []);
    renderHubSpot(job.hubspot);
    renderChanges(s.changes, s.segments);
    $("result-title").focus({ preventScroll: true });
    // presigned links expire quickly: fetch fresh ones a minute before they do
    const every = Math.max(30, (job.downloads_expire_in || 300) - 60) * 1000;
    state.pollTimer = setTimeout(function refresh() {
      if (state.jobId !== job.job_id) return;
      api("GET", "jobs/" + encodeURIComponent(job.job_id))
        .then((fresh) => {
          if (state.jobId !== job.job_id) return;
          if (fresh.downloads) renderDownloads(fresh.downloads);
          renderHubSpot(fresh.hubspot);
        })
        .catch(() => {})
        .finally(() => { if (state.jobId === job.job_id) state.pollTimer = setTimeout(refresh, every); });
    }, every);
  }

  // What changed since the job's previous run (report.json changes): the engine's sentence and its counts.
  // A first run lists only the new members (everyone is new, every segment entered).
  function renderChanges(changes, segments) {
    const panel = $("changes-panel");
    panel.hidden = !changes;
    if (!changes) return;
    panel.dataset.since = changes.since || "";
    $("changes-title").textContent = changes.since ? "Changes since the run as of " + changes.since : "First run of this job";
    const words = changes.summary || "";
    $("changes-summary").textContent = words.charAt(0).toUpperCase() + words.slice(1) + (words ? "." : "");
    const labels = Object.fromEntries((segments || []).map((s) => [s.name, s.label]));
    const rows = [["new", "New members", changes.new]];
    if (changes.since) {
      rows.push(["gone", "No longer in the export", changes.gone], ["status_changed", "Status changed", changes.status_changed]);
      [["entered", "Entered "], ["left", "Left "]].forEach(([kind, verb]) => {
        Object.entries(changes[kind] || {}).filter(([, n]) => n).forEach(([name, n]) => {
          rows.push([kind + ":" + name, verb + (labels[name] || fieldWords(name)), n]);
        });
      });
    }
    $("changes-counts").replaceChildren(...rows.map(([key, label, n]) => {
      const li = document.createElement("li");
      li.dataset.change = key;
      const value = document.createElement("span");
      value.className = "count";
      value.textContent = number(n);
      li.append(value, " " + label);
      return li;
    }));
  }

  // Which layout each file was read as, in plain words (api_core.read_as).
  // A swap the engine made (report.json inputs.swapped) is said first, with its reason.
  function renderReadAs(inputs, swapped) {
    const list = $("result-profiles");
    list.replaceChildren();
    if (swapped) {
      const li = document.createElement("li");
      li.className = "swapped";
      li.textContent = "Your two files were in each other's places, so each was read as the other: " + swapped;
      list.append(li);
    }
    ROLES.filter((role) => inputs[role]).forEach((role) => {
      const li = document.createElement("li");
      li.dataset.role = role;
      const file = document.createElement("span");
      file.className = "file";
      file.textContent = inputs[role].file;
      li.append(file, " · Read as: " + (inputs[role].read_as || inputs[role].profile));
      if ((inputs[role].evidence || []).length) li.append(inferredEvidence(inputs[role].evidence));
      list.append(li);
    });
  }

  // A layout memberseg worked out from the file: what decided it, in the engine's words.
  function inferredEvidence(evidence) {
    const details = document.createElement("details");
    details.className = "evidence";
    const summary = document.createElement("summary");
    summary.textContent = "How memberseg worked it out";
    const items = document.createElement("ul");
    evidence.forEach((line) => { const li = document.createElement("li"); li.textContent = line; items.append(li); });
    details.append(summary, items);
    return details;
  }

  // The push to HubSpot (only when the stack pushes): its state, counts and the first refused rows.
  function renderHubSpot(h) {
    const panel = $("hubspot-panel");
    panel.hidden = !h;
    if (!h) return;
    panel.dataset.state = h.state;
    $("hubspot-message").textContent = h.message + (h.error ? " " + h.error : "");
    const finished = h.state === "DONE" || h.state === "ROW_ERRORS" || (h.state === "FAILED" && (h.created || h.updated));
    $("hubspot-counts").hidden = !finished;
    $("hubspot-created").textContent = number(h.created);
    $("hubspot-updated").textContent = number(h.updated);
    $("hubspot-errors").textContent = number(h.errors);
    const list = $("hubspot-error-lines");
    list.replaceChildren();
    (h.first_errors || []).forEach((e) => {
      const li = document.createElement("li");
      li.textContent = (e.line ? "Line " + e.line + ": " : "") + e.message;
      list.appendChild(li);
    });
    $("hubspot-error-title").hidden = !(h.first_errors || []).length;
    if ((h.state === "PUSHING" || h.state === "RETRYING") && !state.hubspotTimer) {
      const jobId = state.jobId;
      state.hubspotTimer = setTimeout(() => {
        state.hubspotTimer = null;
        if (state.jobId !== jobId) return;
        api("GET", "jobs/" + encodeURIComponent(jobId))
          .then((fresh) => { if (state.jobId === jobId) renderHubSpot(fresh.hubspot); })
          .catch(() => { if (state.jobId === jobId) renderHubSpot(h); });
      }, 5 * POLL_MS);
    }
  }

  function renderStatusCounts(counts) {
    const list = $("status-counts");
    list.replaceChildren();
    const order = Object.keys(STATUS_TONES);
    const rank = (label) => (order.includes(label) ? order.indexOf(label) : order.length);
    Object.entries(counts).sort((a, b) => rank(a[0]) - rank(b[0])).forEach(([label, count]) => {
      const li = document.createElement("li");
      li.dataset.status = label;
      li.dataset.tone = STATUS_TONES[label] || "other";
      const dot = document.createElement("span");
      dot.className = "dot";
      dot.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.className = "label";
      name.textContent = label;
      const value = document.createElement("span");
      value.className = "count";
      value.textContent = number(count);
      li.append(dot, name, value);
      list.append(li);
    });
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.entries(attrs || {}).forEach(([k, v]) => el.setAttribute(k, String(v)));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function niceCeil(value) {      // 113 -> 120, 48 -> 50: round axis ticks at quarters
    const base = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10]) if (step * base >= value) return step * base;
    return 10 * base;
  }

  function renderChart(segments) {
    const width = 640, labelW = 180, valueW = 56, rowH = 36, barH = 22, top = 6, axisH = 22;
    const plotW = width - labelW - valueW;
    const max = niceCeil(Math.max(1, ...segments.map((s) => s.count)));
    const height = top * 2 + rowH * segments.length + axisH;
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "Customers per segment" });
    chart.append(svg("title", {}, "Customers per segment"));
    const plotBottom = top + rowH * segments.length;
    [0, 0.25, 0.5, 0.75, 1].forEach((f) => {
      const x = labelW + plotW * f;
      chart.append(svg("line", { x1: x, x2: x, y1: 0, y2: plotBottom, class: "grid" }));
      chart.append(svg("text", { x: x, y: plotBottom + 16, "text-anchor": "middle", class: "axis" }, number(Math.round(max * f))));
    });
    segments.forEach((seg, i) => {
      const y = top + i * rowH;
      const w = Math.max(seg.count ? 2 : 0, (seg.count / max) * plotW);
      const status = SEGMENT_STATUS[seg.name];
      const g = svg("g", { "data-segment": seg.name, "data-tone": status ? STATUS_TONES[status] : "other" });
      if (status) g.dataset.status = status;
      g.append(svg("text", { x: labelW - 10, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "middle", class: "bar-label" }, seg.label));
      const bar = svg("rect", { x: labelW, y: y + (rowH - barH) / 2, width: w.toFixed(1), height: barH, rx: 4, class: "bar" });
      bar.append(svg("title", {}, seg.label + ": " + number(seg.count) + (status ? " (status " + status + ")" : "")));
      g.append(bar);
      g.append(svg("text", { x: labelW + w + 8, y: y + rowH / 2, "dominant-baseline": "middle", class: "bar-value" }, number(seg.count)));
      chart.append(g);
    });
    $("chart").replaceChildren(chart);
  }

  const DOWNLOAD_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3v12m0 0l-5-5m5 5l5-5M5 21h14"/></svg>';
  function renderDownloads(downloads) {
    const box = $("downloads");
    box.replaceChildren();
    downloads.forEach((d) => {
      const a = document.createElement("a");
      a.className = "btn" + (d.kind === "report" ? " secondary" : "");
      a.href = d.url;
      a.download = d.name;
      a.dataset.kind = d.kind;
      a.innerHTML = DOWNLOAD_ICON;
      a.append(document.createTextNode(d.label));
      box.append(a);
    });
  }

  // ---------------------------------------------------------------- the mapping step (needs_answers)
  // A job that stopped to ask shows its questions instead of an error: each choice in plain words, with
  // the column's sample values, the suggestion preselected. "Save and run" sends the answers
  // (POST /jobs/{id}/answers); the job then runs again, saves the finished layout and the page follows it.
  const CHOICE_WORDS = {
    current: "a current member", renewing: "a current member whose membership renews by itself",
    at_risk: "a member at risk (a payment failed or is late)", ended: "no longer a member (ended)",
    not_member: "not a member at all", no_term: "a row that buys no membership time",
    comp: "a complimentary member (a current member who does not pay)", gift: "a gift membership (a current member someone else paid for)",
    paid: "paid: it counts", refunded: "refunded: it counts 0", unpaid: "not paid: it does not count",
    payment: "a payment: it counts", refund: "a refund: taken off what the customer paid",
    chargeback: "a chargeback: taken off what the customer paid", not_money: "no money moved (a card check, an authorization …)",
    MDY: "month first (05/01/2024 is 1 May)", DMY: "day first (05/01/2024 is 5 January)",
    ".": "a point (1,234.50)", ",": "a comma (1.234,50)",
    major: "in whole currency (99 means 99.00)", minor: "in cents (9900 means 99.00)",
    person: "people's names", company: "company names",
    no_expiry: "the membership never expires", invalid: "a mistake: leave the row out",
    when_blank: "yes, while it is blank", when_not_blank: "yes, while it is filled in", never: "no, never by itself",
    row_type: "what kind of row it is (a payment, a refund, a card check …)",
    ignore: "nothing memberseg needs: leave it out", status: "the status",
    calendar_year: "the calendar year (the one the item names, else the payment's)",
    every_payment: "every payment",
    status_alone: "no fixed term: the status says who is a member now (a current one never expires)",
  };
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December"];
  state.answered = {};     // question id -> answer, kept for a second round of questions

  function choiceWords(question, choice) {
    if (choice === null) return "none of these columns";
    if (choice === true) return "yes";
    if (choice === false) return "no";
    if (typeof choice === "object") {
      if (choice.months) return choice.months === 1 ? "1 month from the payment" : choice.months + " months from the payment";
      if (choice.days) return choice.days + " days from the payment";
      if (choice.season_start) {
        const [month, day] = String(choice.season_start).split("-").map(Number);
        return "a season starting " + day + " " + (MONTHS[month - 1] || choice.season_start);
      }
      if (choice.starts_with) return "the payments whose item starts with " + quoted([].concat(choice.starts_with)).replace(/, (?=[^,]*$)/, " or ");
      if (choice.contains) return "the payments whose item contains " + quoted([].concat(choice.contains)).replace(/, (?=[^,]*$)/, " or ");
      if (choice.interval_column) return "the billing interval in the column “" + choice.interval_column + "” (monthly, yearly …)";
      return JSON.stringify(choice);
    }
    const column = (question.candidates || []).find((c) => c.column === choice);
    if (column && question.id.indexOf(".column.") < 0) return "the column “" + choice + "”";
    return CHOICE_WORDS[choice] || fieldWords(choice);
  }

  function choiceSamples(question, choice) {
    const column = (question.candidates || []).find((c) => c.column === choice);
    if (!column || question.id.indexOf(".column.") >= 0) return "";
    const samples = (column.samples || []).slice(0, 3);
    return samples.length ? "for example " + quoted(samples) : "empty in this file";
  }

  // what a field holds, in the words of someone who keeps the spreadsheet
  const FIELD_WORDS = {
    email: "each customer's email address", customer_id: "each customer's ID", customer_name: "each customer's name",
    company: "the company", created_date: "the date each membership started", start_date: "the date each membership started",
    expiration_date: "the date each membership ends", renewal_marker: "a sign that a membership renews by itself (for example the next payment date)",
    status: "each membership's status", plan: "the plan or membership level", order_id: "each order's number",
    order_date: "each order's date", order_value: "each order's amount", refunded_value: "the amount refunded",
    currency: "the currency",
  };

  function questionText(question) {
    const file = "“" + question.file + "”";
    if (question.kind === "term") return termText(question, file);
    const field = /\.field\.(\w+)$/.exec(question.id);
    if (field) return "Which column of " + file + " holds " + (FIELD_WORDS[field[1]] || fieldWords(field[1])) + "?";
    const column = /\.column\.(.+)$/.exec(question.id);
    if (column) return "memberseg does not read the column “" + column[1] + "” of " + file + ". What does it hold?";
    return question.prompt;
  }

  // the term questions in plain words: "Each “Club Membership 2025/26” payment covers:", "Which payments are memberships?"
  function termText(question, file) {
    if (/\.term\.buys$/.test(question.id)) return "Which payments in " + file + " are memberships?";
    const item = (question.candidates || []).find((c) => (c.names_membership || []).length);
    if (!item && (question.choices || []).includes("status_alone")) return file + " has no membership end date. How long does a membership last?";
    return item ? "Each “" + item.names_membership[0] + "” payment in " + file + " covers:" : "Each payment in " + file + " covers:";
  }

  function questionFacts(question) {
    // what the file shows for this question: a column's values with their counts, or one value's rows
    const facts = [];
    (question.candidates || []).forEach((c) => {
      if (c.values) facts.push("Values in “" + c.column + "”: " + Object.entries(c.values).map(([v, n]) => "“" + v + "” (" + number(n) + ")").join(", "));
      else if (c.value !== undefined) facts.push("“" + c.value + "” in the column “" + c.column + "”, " + number(c.rows) + " row(s)");
      else if ((c.samples || []).length && !(question.choices || []).includes(c.column)) {
        facts.push("The column “" + c.column + "” holds, for example, " + quoted(c.samples.slice(0, 3)));
      }
    });
    if (/\.term\.buys$/.test(question.id)) return facts;     // the item column's values: what the choices are made of
    return question.kind === "term" ? [] : facts;
  }

  function renderQuestion(question, index) {
    const box = document.createElement("fieldset");
    box.className = "question";
    box.dataset.question = question.id;
    const legend = document.createElement("legend");
    legend.textContent = (index + 1) + ". " + questionText(question);
    box.append(legend);
    const file = document.createElement("p");
    file.className = "muted small";
    file.textContent = "File: " + question.file;
    box.append(file);
    questionFacts(question).forEach((line) => { const p = document.createElement("p"); p.className = "small"; p.textContent = line; box.append(p); });
    const remembered = Object.prototype.hasOwnProperty.call(state.answered, question.id) ? state.answered[question.id] : question.suggested;
    (question.choices || []).forEach((choice, i) => {
      const id = "q" + index + "-" + i;
      const row = document.createElement("div");
      row.className = "choice";
      const input = document.createElement("input");
      Object.assign(input, { type: "radio", name: "q" + index, id: id, value: String(i) });
      input.checked = remembered !== undefined && (JSON.stringify(choice) === JSON.stringify(remembered) ||
        Boolean(choice && remembered && choice.season_start && remembered.season_start));   // the day may be the user's
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = choiceWords(question, choice);
      if (question.suggested !== undefined && JSON.stringify(choice) === JSON.stringify(question.suggested)) {
        const hint = document.createElement("span");
        hint.className = "suggested";
        hint.textContent = " (suggested)";
        label.append(hint);
      }
      const samples = choiceSamples(question, choice);
      if (samples) {
        const s = document.createElement("span");
        s.className = "samples";
        s.textContent = samples;
        label.append(s);
      }
      row.append(input, label);
      if (choice && choice.season_start && customKind(question, "season_start") === "day") {
        row.append(seasonDayPicker(input, remembered && remembered.season_start ? remembered.season_start : choice.season_start));
      }
      box.append(row);
    });
    if (TEXT_TESTS.some((test) => customKind(question, test) === "text")) box.append(customTextChoice(question, index, remembered));
    return box;
  }

  const customKind = (question, key) => (question.custom || {})[key];

  // A season's first day, editable: a day and a month select (labelled; choosing either picks the season).
  function seasonDayPicker(radio, value) {
    const [month, day] = String(value || "09-01").split("-").map(Number);
    const span = document.createElement("span");
    span.className = "season-day";
    const daySelect = document.createElement("select");
    daySelect.className = "season-day-day";
    daySelect.setAttribute("aria-label", "The season's first day: day of the month");
    for (let d = 1; d <= 31; d++) daySelect.append(new Option(String(d), String(d), false, d === day));
    const monthSelect = document.createElement("select");
    monthSelect.className = "season-day-month";
    monthSelect.setAttribute("aria-label", "The season's first day: month");
    MONTHS.forEach((name, i) => monthSelect.append(new Option(name, String(i + 1), false, i + 1 === month)));
    [daySelect, monthSelect].forEach((select) => select.addEventListener("change", () => { radio.checked = true; }));
    span.append(daySelect, monthSelect);
    return span;
  }

  function seasonDayOf(row) {
    const day = Number(row.querySelector(".season-day-day").value);
    const month = Number(row.querySelector(".season-day-month").value);
    const probe = new Date(Date.UTC(2001, month - 1, day));     // a day every year has (no 29 February)
    if (probe.getUTCMonth() !== month - 1) return null;
    return String(month).padStart(2, "0") + "-" + String(day).padStart(2, "0");
  }

  // "Other": the payments whose item starts with, or contains, a text the user types (the tests the
  // question's `custom` takes, in the profile language's words).
  const TEXT_TESTS = ["starts_with", "contains"];
  const TEXT_TEST_WORDS = { starts_with: "starts with", contains: "contains" };

  function customTextChoice(question, index, remembered) {
    const row = document.createElement("div");
    row.className = "choice custom";
    const input = document.createElement("input");
    Object.assign(input, { type: "radio", name: "q" + index, id: "q" + index + "-custom", value: "custom" });
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.textContent = "other: the payments whose item";
    const test = document.createElement("select");
    test.className = "custom-test";
    test.setAttribute("aria-label", "How the item's text is tested");
    TEXT_TESTS.filter((key) => customKind(question, key) === "text")
      .forEach((key) => test.append(new Option(TEXT_TEST_WORDS[key], key)));
    const text = document.createElement("input");
    Object.assign(text, { type: "text", className: "custom-text", maxLength: 200 });
    text.setAttribute("aria-label", "The text of the items that are memberships");
    const key = remembered && TEXT_TESTS.find((k) => typeof remembered[k] === "string");
    const own = key && !(question.choices || []).some((c) => JSON.stringify(c) === JSON.stringify(remembered));
    if (own) { text.value = remembered[key]; test.value = key; input.checked = true; }
    text.addEventListener("input", () => { input.checked = true; });
    test.addEventListener("change", () => { input.checked = true; });
    row.append(input, label, test, text);
    return row;
  }

  // The answer a picked radio stands for: its choice, the season with the day chosen, or the typed text.
  function answerOf(question, picked) {
    const row = picked.closest(".choice");
    if (picked.value === "custom") {
      const text = row.querySelector(".custom-text").value.trim();
      return text ? { [row.querySelector(".custom-test").value]: text } : undefined;
    }
    const choice = question.choices[Number(picked.value)];
    if (choice && choice.season_start && row.querySelector(".season-day")) {
      const day = seasonDayOf(row);
      return day ? { season_start: day } : undefined;
    }
    return choice;
  }

  function showMapping(job) {
    state.busy = false;
    if (state.answeredJob !== job.job_id) { state.answered = {}; state.answeredJob = job.job_id; }   // this job's answers only
    state.mapping = job.mapping;
    clearTimeout(state.pollTimer);
    body.dataset.jobStatus = "NEEDS_ANSWERS";
    showJobRef(job.job_id);
    $("upload-panel").hidden = true;
    $("error-panel").hidden = true;
    $("result-panel").hidden = true;
    $("mapping-panel").hidden = false;
    $("mapping-error").textContent = "";
    $("mapping-save").disabled = false;
    $("mapping-questions").replaceChildren(...job.mapping.questions.map(renderQuestion));
    if (!$("mapping-name").value) $("mapping-name").value = job.mapping.profile_name || "";
    $("mapping-title").focus();
  }

  function collectAnswers() {
    const answers = {};
    const open = [];
    state.mapping.questions.forEach((question, index) => {
      const picked = document.querySelector("input[name='q" + index + "']:checked");
      const answer = picked ? answerOf(question, picked) : undefined;
      if (answer !== undefined) answers[question.id] = answer;
      else open.push(index + 1);
    });
    return { answers, open };
  }

  async function saveMapping(event) {
    event.preventDefault();
    const { answers, open } = collectAnswers();
    const name = $("mapping-name").value.trim();
    if (open.length) {
      $("mapping-error").textContent = "Please answer question " + open.join(", ") + ".";
      document.querySelector("[data-question] input[name='q" + (open[0] - 1) + "']").focus();
      return;
    }
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(name)) {
      $("mapping-error").textContent = "Give the layout a name of lower-case letters, digits and _, starting with a letter.";
      $("mapping-name").focus();
      return;
    }
    $("mapping-save").disabled = true;
    $("mapping-error").textContent = "";
    try {
      await api("POST", "jobs/" + encodeURIComponent(state.jobId) + "/answers", { profile_name: name, answers });
    } catch (error) {
      if (error instanceof AuthError) { showToken(error.message); return; }
      $("mapping-error").textContent = error.message;
      $("mapping-save").disabled = false;
      return;
    }
    Object.assign(state.answered, answers);
    $("mapping-panel").hidden = true;
    $("upload-panel").hidden = false;
    $("upload-panel").classList.add("finished");
    body.dataset.jobStatus = "PROCESSING";
    showStatus("Layout saved as “" + name + "”. Segmenting your customers…");
    state.busy = true;
    state.pollStarted = Date.now();
    state.answeredRun = state.mapping.run_id;
    poll();
  }
  $("mapping-form").addEventListener("submit", saveMapping);
  $("mapping-cancel").addEventListener("click", () => { $("mapping-panel").hidden = true; $("mapping-name").value = ""; startOver(); });

  // Until the answered run begins, the job still shows the run that asked: keep waiting for a newer one.
  function stillAsking(job) {
    return Boolean(state.answeredRun) && job.status === "FAILED" && Boolean(job.mapping) &&
      job.mapping.run_id === state.answeredRun;
  }

  // Until the run of the newer files commits, the job still shows the run before them: keep waiting.
  function showsOlderRun(job) {
    return Boolean(state.afterRun) && (job.status === "SUCCEEDED" || job.status === "FAILED") && job.run_id === state.afterRun;
  }

  function openJobFromAddress() {
    const jobId = new URLSearchParams(window.location.search).get("job");
    if (!jobId || !/^[0-9a-f]{32}$/.test(jobId)) return;
    state.jobId = jobId;
    state.busy = true;
    showJobRef(jobId);
    showStatus("Looking up job " + jobId.slice(0, JOB_ID_SHOWN) + "…");
    state.pollStarted = Date.now();
    poll();
  }

  // ---------------------------------------------------------------- start over
  function resetUploads() {
    state.busy = false;
    ROLES.forEach((r) => {
      const zone = $("zone-" + r);
      zone.classList.remove("locked", "done");
      zone.removeAttribute("aria-disabled");
      $(r + "-progress-row").hidden = true;
      setProgress(r, 0);
      $(r + "-progress-row").hidden = true;
    });
    refreshStart();
  }

  // keep: the role whose chosen file stays (the other file of a job whose error named one file)
  function startOver(keep) {
    clearTimeout(state.pollTimer);
    state.jobId = null;
    state.intoJob = null;
    state.afterRun = null;
    $("upload-title").textContent = "Segment your members";
    $("upload-lede").textContent = UPLOAD_LEDE;
    resetAsOf();
    state.names = {};
    state.files = keep && state.files[keep] ? { [keep]: state.files[keep] } : {};
    delete body.dataset.jobStatus;
    ROLES.filter((r) => r !== keep).forEach((r) => {
      $(r + "-input").value = "";
      $(r + "-file").hidden = true;
      $(r + "-error").textContent = "";
      $("zone-" + r).classList.remove("ready", "invalid");
    });
    resetUploads();
    $("status-box").hidden = true;
    $("error-panel").hidden = true;
    $("result-panel").hidden = true;
    $("upload-panel").classList.remove("finished");
    $("upload-panel").hidden = false;
    $("zone-" + (ROLES.find((r) => !state.files[r]) || ROLES[0])).focus();
  }
  $("start-over").addEventListener("click", () => startOver());
  // Newer files into the job shown: its runs form a series, so the result says what changed since this one.
  $("newer").addEventListener("click", () => {
    const jobId = state.jobId;
    const run = state.shownRun;
    startOver();
    state.intoJob = jobId;
    state.afterRun = run;
    showJobRef(jobId);
    $("upload-title").textContent = "Newer files for this job";
    $("upload-lede").textContent = "Add this job's newer membership and order exports. The result will say what changed since the run you just saw.";
  });
  $("again").addEventListener("click", () => startOver());
  $("retry-file").addEventListener("click", () => startOver(ROLES.find((r) => r !== state.failedRole)));

  // ---------------------------------------------------------------- boot
  const UPLOAD_LEDE = $("upload-lede").textContent;
  $("result-title").tabIndex = -1;
  resetAsOf();
  if (config.auth && !token()) showToken(); else $("upload-panel").hidden = false;
  refreshStart();
  openJobFromAddress();
})();
