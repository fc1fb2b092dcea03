/* The web demo's page logic: runs the model with ONNX Runtime Web (WebAssembly, one thread,
 * everything read from the files next to this one) on images that prepare.js (window.tlPrep)
 * prepares exactly as the studio's engine does, and shows the answer. No network: the runtime and
 * the model come from model.js and onnxruntime-web/ort-wasm-simd-threaded.js, which classic
 * <script> tags can load even from disk.
 */
(function () {
  "use strict";
  var M = window.tlModel;
  var P = window.tlPrep;
  var sessionPromise = null;
  var queue = Promise.resolve(); // one inference at a time: a session runs one call at a time

  function bytesOf(base64) {
    var bin = atob(base64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function session() {
    if (!sessionPromise) {
      var rt = window.tlOrtWasm;
      // Threads need a cross-origin-isolated page, which a file or a plain static host is not;
      // the wasm binary and its loader are handed over directly, so nothing is fetched.
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmBinary = bytesOf(rt.wasm).buffer;
      ort.env.wasm.wasmPaths = {
        mjs: URL.createObjectURL(new Blob([rt.glue], { type: "text/javascript" }))
      };
      sessionPromise = ort.InferenceSession.create(bytesOf(M.onnx), { executionProviders: ["wasm"] });
      rt.wasm = M.onnx = null; // the runtime keeps its own copies: free the text (tens of MB)
    }
    return sessionPromise;
  }

  // ---- the model --------------------------------------------------------------------------

  function answer(probabilities) {
    var best = 0, all = {};
    for (var i = 0; i < probabilities.length; i++) {
      all[M.classes[i]] = probabilities[i];
      if (probabilities[i] > probabilities[best]) best = i;
    }
    return { label: M.classes[best], probability: probabilities[best], probabilities: all,
             notSure: probabilities[best] < M.not_sure_below };
  }

  function classifySquare(rgb) {
    var run = queue.then(async function () {
      var s = await session();
      var out = await s.run({ image: new ort.Tensor("float32", P.normalised(rgb, M.image_size),
                                                [1, 3, M.image_size, M.image_size]) });
      return answer(Array.from(out.probabilities.data));
    });
    queue = run.catch(function () {});
    return run;
  }

  function classifyBlob(blob) {
    return P.squareOf(blob).then(classifySquare);
  }

  /* For tests and scripts: classify the image at `url` (data:, blob:, or same-site http(s)). */
  window.tlClassify = function (url) {
    return blobAt(url).then(classifyBlob);
  };
  /* The size x size RGB square the model is given for the image at `url` (uint8, row by row). */
  window.tlPrepare = function (url) {
    return blobAt(url).then(P.squareOf).then(function (rgb) { return Array.from(rgb); });
  };
  window.tlReady = function () { return session().then(function () { return true; }); };

  async function blobAt(url) {
    try {
      var res = await fetch(url);
      if (!res.ok) throw new Error(res.status + " " + res.statusText);
      return await res.blob();
    } catch (err) {
      throw new Error("Could not read " + String(url).slice(0, 80) + " (" + err.message + "). " +
        (location.protocol === "file:" ? "A page opened from disk can only read data: and blob: " +
        "addresses; serve the folder (python -m http.server) to classify files by address." : ""));
    }
  }

  // ---- the page ---------------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function pct(p) { return Math.round(p * 100) + "%"; }

  function headline(r) {
    return r.notSure ? "Not sure \u2014 maybe " + r.label + " (" + pct(r.probability) + ")"
                     : r.label + " (" + pct(r.probability) + ")";
  }

  function bars(container, r) {
    container.textContent = "";
    M.classes.forEach(function (name) {
      var p = r.probabilities[name], row = document.createElement("div"), label = document.createElement("span");
      var track = document.createElement("span"), fill = document.createElement("span"), value = document.createElement("span");
      row.className = "bar" + (name === r.label ? " best" : "");
      label.className = "name"; label.textContent = name;
      track.className = "track"; fill.className = "fill"; fill.style.width = (p * 100).toFixed(1) + "%";
      value.className = "value"; value.textContent = pct(p);
      track.appendChild(fill); row.appendChild(label); row.appendChild(track); row.appendChild(value);
      container.appendChild(row);
    });
  }

  function addResult(file) {
    var card = document.createElement("div"), img = document.createElement("img"), text = document.createElement("div");
    var title = document.createElement("div"), name = document.createElement("div"), list = document.createElement("div");
    card.className = "result"; title.className = "headline"; name.className = "file"; list.className = "bars";
    img.src = URL.createObjectURL(file); img.alt = file.name || "image";
    name.textContent = file.name || "image"; title.textContent = "Classifying\u2026";
    text.appendChild(title); text.appendChild(name); text.appendChild(list);
    card.appendChild(img); card.appendChild(text);
    $("results").prepend(card);
    classifyBlob(file).then(function (r) {
      title.textContent = headline(r);
      title.classList.toggle("unsure", r.notSure);
      bars(list, r);
    }, function (err) {
      title.textContent = "Could not classify this file: " + err.message;
      title.classList.add("error");
    });
  }

  function addFiles(files) {
    Array.prototype.forEach.call(files, function (f) {
      if (!f.type || f.type.indexOf("image/") === 0) addResult(f);
    });
  }

  var camera = { stream: null, running: false };

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $("camera-note").textContent = "This browser allows the camera only on pages opened from disk, from " +
        "localhost or over https.";
      return;
    }
    try {
      camera.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (err) {
      $("camera-note").textContent = "The camera could not be started (" + err.message + "). Allow it in the " +
        "browser's address bar and try again.";
      return;
    }
    var video = $("video");
    video.srcObject = camera.stream;
    await video.play();
    camera.running = true;
    $("camera-button").textContent = "Stop the camera";
    $("camera-note").textContent = "";
    liveLoop();
  }

  function stopCamera() {
    camera.running = false;
    if (camera.stream) camera.stream.getTracks().forEach(function (t) { t.stop(); });
    camera.stream = null;
    $("camera-button").textContent = "Start the camera";
  }

  async function liveLoop() {
    var video = $("video"), frames = 0, since = performance.now();
    while (camera.running) {
      if (video.videoWidth) {
        var rgba = P.pixelsOnWhite(video, video.videoWidth, video.videoHeight);
        var r = await classifySquare(P.square(P.rgbOf(rgba, video.videoWidth, video.videoHeight), M.image_size));
        if (!camera.running) break;
        $("live-label").textContent = headline(r);
        $("live-label").classList.toggle("unsure", r.notSure);
        bars($("live-bars"), r);
        frames++;
        var now = performance.now();
        if (now - since > 1000) {
          $("live-rate").textContent = (frames * 1000 / (now - since)).toFixed(1) + " predictions a second";
          frames = 0; since = now;
        }
      }
      await new Promise(function (done) { requestAnimationFrame(function () { done(); }); });
    }
  }

  function setUp() {
    $("classes").textContent = M.classes.join(", ");
    $("camera-button").addEventListener("click", function () {
      if (camera.running) stopCamera(); else startCamera();
    });
    var drop = $("drop");
    $("choose").addEventListener("change", function (e) { addFiles(e.target.files); e.target.value = ""; });
    drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (e) {
      e.preventDefault(); drop.classList.remove("over");
      addFiles(e.dataTransfer.files);
    });
    document.addEventListener("paste", function (e) {
      if (e.clipboardData) addFiles(e.clipboardData.files);
    });
    session().then(function () {
      $("status").textContent = "Ready. The model runs in this browser: no image leaves this computer.";
      $("status").className = "status ready";
    }, function (err) {
      $("status").textContent = "The model could not be started in this browser (" + err.message + "). " +
        "Try a recent Chrome, Edge, Firefox or Safari.";
      $("status").className = "status error";
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
