(function () {
  "use strict";

  function num(v) {
    if (v === null || v === undefined || v === "") return null;
    var x = Number(v);
    return isFinite(x) ? x : null;
  }

  function compare(a, b, numeric, desc) {
    if (numeric) {
      var x = num(a), y = num(b);
      if (x === null && y === null) return 0;
      if (x === null) return 1;   // empty cells last, whatever the direction
      if (y === null) return -1;
      return desc ? y - x : x - y;
    }
    var s = String(a === null || a === undefined ? "" : a), t = String(b === null || b === undefined ? "" : b);
    var c = s.localeCompare(t, undefined, { numeric: true });
    return desc ? -c : c;
  }

  function setSortMark(ths, th, desc) {
    Array.prototype.forEach.call(ths, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", desc ? "descending" : "ascending");
  }

  // ---- sortable static tables
  function makeSortable(table) {
    var ths = table.querySelectorAll("thead th");
    Array.prototype.forEach.call(ths, function (th, col) {
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "num";
        var was = th.getAttribute("aria-sort");
        var desc = was ? was === "ascending" : numeric;  // numbers: largest first on the first click
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var a = r1.cells[col], b = r2.cells[col];
          var va = a ? (a.hasAttribute("data-v") ? a.getAttribute("data-v") : a.textContent) : "";
          var vb = b ? (b.hasAttribute("data-v") ? b.getAttribute("data-v") : b.textContent) : "";
          return compare(va, vb, numeric, desc);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        setSortMark(ths, th, desc);
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);

  // ---- lightbox
  var box = document.getElementById("lightbox");
  var boxImg = document.getElementById("lightbox-img");
  var boxCap = document.getElementById("lightbox-caption");
  var links = Array.prototype.slice.call(document.querySelectorAll("a.lightbox-link"));
  var current = -1;
  function show(i) {
    if (!box || i < 0 || i >= links.length) return;
    current = i;
    boxImg.src = links[i].getAttribute("href");
    boxCap.textContent = links[i].getAttribute("data-caption") || "";
    box.hidden = false;
  }
  function hide() { if (box) { box.hidden = true; boxImg.removeAttribute("src"); current = -1; } }
  function bindLink(a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      var i = links.indexOf(a);
      if (i < 0) { links.push(a); i = links.length - 1; }
      show(i);
    });
  }
  links.forEach(bindLink);
  if (box) {
    box.addEventListener("click", function (ev) {
      var t = ev.target;
      if (t.classList.contains("lb-prev")) { show(current - 1); return; }
      if (t.classList.contains("lb-next")) { show(current + 1); return; }
      if (t !== boxImg) hide();
    });
    document.addEventListener("keydown", function (ev) {
      if (box.hidden) return;
      if (ev.key === "Escape") hide();
      else if (ev.key === "ArrowLeft") show(current - 1);
      else if (ev.key === "ArrowRight") show(current + 1);
    });
  }

  // ---- the per-image table: filter, sort, paginate (rows rendered a page at a time)
  var dataEl = document.getElementById("image-data");
  var table = document.getElementById("image-table");
  if (!dataEl || !table) return;
  var data = JSON.parse(dataEl.textContent);
  var PAGE = 50;
  var state = { key: null, desc: false, cls: -1, query: "", page: 0 };
  var select = document.getElementById("image-class");
  var search = document.getElementById("image-search");
  var countEl = document.getElementById("image-count");
  var pageEl = document.getElementById("image-page");
  if (select) (data.classes || []).forEach(function (name, i) {
    var o = document.createElement("option");
    o.value = String(i);
    o.textContent = name;
    select.appendChild(o);
  });
  var intCols = {};
  data.columns.forEach(function (c, i) { if (c.int) intCols[i] = true; });
  var miouCol = -1;
  data.columns.forEach(function (c, i) { if (c.key === "miou") miouCol = i; });
  state.key = miouCol >= 0 ? miouCol : null;   // worst images first

  function fmt(v, i) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number") return intCols[i] ? v.toLocaleString("en-US") : v.toFixed(3);
    return String(v);
  }
  function columnValue(idx, key) {
    if (key === "class") return data.class_iou[idx][state.cls];
    return data.rows[idx][key];
  }
  function visible() {
    var q = state.query.toLowerCase();
    var out = [];
    for (var i = 0; i < data.rows.length; i++) {
      if (q && String(data.rows[i][0]).toLowerCase().indexOf(q) < 0) continue;
      if (state.cls >= 0) {
        var v = data.class_iou[i][state.cls];
        if (v === null || v === undefined) continue;
      }
      out.push(i);
    }
    if (state.key !== null) {
      var key = state.key, desc = state.desc;
      var numeric = key === "class" || !(data.columns[key] && data.columns[key].text);
      out.sort(function (a, b) {
        var c = compare(columnValue(a, key), columnValue(b, key), numeric, desc);
        return c !== 0 ? c : a - b;
      });
    }
    return out;
  }
  function header() {
    var tr = document.createElement("tr");
    var cols = data.columns.map(function (c, i) { return { label: c.label, key: i }; });
    if (state.cls >= 0) cols.splice(1, 0, { label: (data.class_label || "IoU of <class>").replace("<class>", data.classes[state.cls]), key: "class" });
    cols.push({ label: "panel", key: null });
    cols.forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = c.label;
      if (c.key !== null) {
        th.setAttribute("data-key", String(c.key));
        if (state.key === c.key) th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
        th.addEventListener("click", function () {
          if (state.key === c.key) state.desc = !state.desc;
          else { state.key = c.key; state.desc = false; }
          state.page = 0;
          render();
        });
      }
      tr.appendChild(th);
    });
    table.tHead.innerHTML = "";
    table.tHead.appendChild(tr);
  }
  function render() {
    header();
    var idx = visible();
    var pages = Math.max(1, Math.ceil(idx.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    var body = table.tBodies[0];
    var frag = document.createDocumentFragment();
    idx.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (i) {
      var tr = document.createElement("tr");
      var row = data.rows[i];
      var cells = row.map(function (v, j) { return { v: v, j: j }; });
      if (state.cls >= 0) cells.splice(1, 0, { v: data.class_iou[i][state.cls], j: -1 });
      cells.forEach(function (c) {
        var td = document.createElement("td");
        td.textContent = fmt(c.v, c.j);
        if (typeof c.v === "number") td.className = "num";
        tr.appendChild(td);
      });
      var td = document.createElement("td");
      var panel = data.panels[i];
      if (panel) {
        var a = document.createElement("a");
        a.href = panel;
        a.textContent = "panel";
        a.className = "lightbox-link";
        a.setAttribute("data-caption", String(row[0]));
        bindLink(a);
        td.appendChild(a);
      } else {
        td.textContent = "—";
        td.title = "segscope show " + row[0] + " --results …";
      }
      tr.appendChild(td);
      frag.appendChild(tr);
    });
    body.innerHTML = "";
    body.appendChild(frag);
    countEl.textContent = idx.length + " of " + data.rows.length + " images";
    pageEl.textContent = "page " + (state.page + 1) + " of " + pages;
    document.getElementById("image-prev").disabled = state.page === 0;
    document.getElementById("image-next").disabled = state.page >= pages - 1;
  }
  if (select) select.addEventListener("change", function () {
    state.cls = select.value === "" ? -1 : Number(select.value);
    if (state.cls >= 0) { state.key = "class"; state.desc = false; }
    else if (state.key === "class") { state.key = miouCol >= 0 ? miouCol : null; }
    state.page = 0;
    render();
  });
  if (search) search.addEventListener("input", function () { state.query = search.value; state.page = 0; render(); });
  document.getElementById("image-prev").addEventListener("click", function () { state.page -= 1; render(); });
  document.getElementById("image-next").addEventListener("click", function () { state.page += 1; render(); });
  render();
})();
