/* The web demo's preprocessing: an image file, or a video frame, to the model's input exactly as
 * the studio's engine prepares it (window.tlPrep; the page logic is demo.js).
 *
 * As tlcore.portable does it with Pillow:
 *  1. decode; EXIF orientation applied; no colour-profile conversion (Pillow ignores profiles);
 *  2. a JPEG is decoded whole, as the browser does it; only one over the pixel limit is reduced
 *     (by 2, 4 or 8, until it fits), which jpegReduced comes close to (see there);
 *  3. transparency painted on white;
 *  4. shorter side resized to `size` with Pillow's bilinear filter, reproduced here to the integer
 *     (it widens when shrinking), then the centre size x size square;
 *  5. /255, (value - mean) / std per channel, float32 NCHW; the model's "probabilities" output is
 *     the calibrated softmax.
 */
(function () {
  "use strict";
  var M = window.tlModel;
  var PRECISION_BITS = 22; // Pillow's fixed-point resampling: 32 - 8 - 2 bits
  var ONE = 1 << PRECISION_BITS;

  function draftScale(width, height) {
    for (var s = 1; s < 8; s *= 2) if (Math.floor(width / s) * Math.floor(height / s) <= M.max_pixels) return s;
    return 8;
  }

  /* RGBA pixels -> RGB (Uint8Array, 3 per pixel). */
  function rgbOf(rgba, width, height) {
    var out = new Uint8Array(width * height * 3);
    for (var i = 0, j = 0; j < out.length; i += 4, j += 3) {
      out[j] = rgba[i]; out[j + 1] = rgba[i + 1]; out[j + 2] = rgba[i + 2];
    }
    return { rgb: out, width: width, height: height };
  }

  /* Mean of sy x sx cells (partial cells at the right and bottom edges use the pixels there). */
  function boxPlane(a, W, H, sy, sx) {
    var w = Math.ceil(W / sx), h = Math.ceil(H / sy), out = new Float64Array(w * h);
    for (var y = 0; y < h; y++) {
      var y1 = Math.min(y * sy + sy, H);
      for (var x = 0; x < w; x++) {
        var x1 = Math.min(x * sx + sx, W), t = 0;
        for (var yy = y * sy; yy < y1; yy++) for (var xx = x * sx; xx < x1; xx++) t += a[yy * W + xx];
        out[y * w + x] = t / ((y1 - y * sy) * (x1 - x * sx));
      }
    }
    return { data: out, width: w, height: h };
  }

  /* Undo the blur (1, 6, 1) / 8 that libjpeg's smooth chroma upsampling followed by a 2 x 2 mean
   * leaves, along rows (dy = 0) or columns (dy = 1): a few Jacobi steps, edges repeated. */
  function unblur(p, columns) {
    var w = p.width, h = p.height, b = p.data, c = Float64Array.from(b), n = columns ? h : w;
    var step = columns ? w : 1, lines = columns ? w : h, stride = columns ? 1 : w;
    for (var it = 0; it < 6; it++) {
      var next = new Float64Array(c.length);
      for (var l = 0; l < lines; l++) {
        for (var i = 0; i < n; i++) {
          var at = l * stride + i * step;
          var prev = c[l * stride + Math.max(i - 1, 0) * step], nxt = c[l * stride + Math.min(i + 1, n - 1) * step];
          next[at] = (8 * b[at] - prev - nxt) / 6;
        }
      }
      c = next;
    }
    return { data: c, width: w, height: h };
  }

  /* Sampling of a JPEG's colour (from its frame header): how many luma pixels share one chroma
   * sample across (x) and down (y); 1 x 1 for greyscale and 4:4:4. */
  function jpegSubsampling(bytes) {
    var i = 2;
    while (i + 4 <= bytes.length && bytes[i] === 0xff) {
      var marker = bytes[i + 1], len = (bytes[i + 2] << 8) | bytes[i + 3];
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (bytes[i + 9] !== 3 || i + 16 > bytes.length) break;
        var luma = bytes[i + 11], chroma = bytes[i + 14];
        var x = (luma >> 4) / (chroma >> 4), y = (luma & 15) / (chroma & 15);
        return { x: x === 2 ? 2 : 1, y: y === 2 ? 2 : 1 };
      }
      if (marker === 0xda) break;
      i += 2 + len;
    }
    return { x: 1, y: 1 };
  }

  /* A JPEG decoded whole -> close to libjpeg's decoding at 1/s scale (Pillow's draft mode). The
   * browser's full decode equals Pillow's; at 1/s libjpeg gives each s x s cell of luma its mean,
   * and takes the colour samples as stored instead of smoothing them up: so luma (JFIF YCbCr) is
   * averaged over s x s cells, and chroma is averaged over the subsampling cells, unblurred, then
   * averaged over what remains of s. Typically within one level of Pillow, rarely more where a
   * colour is at full saturation. */
  function jpegReduced(img, s, sub) {
    if (s === 1) return img;
    var W = img.width, H = img.height, n = W * H, src = img.rgb;
    var Y = new Float64Array(n), Cb = new Float64Array(n), Cr = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      var r = src[i * 3], g = src[i * 3 + 1], b = src[i * 3 + 2];
      Y[i] = 0.299 * r + 0.587 * g + 0.114 * b;
      Cb[i] = -0.168736 * r - 0.331264 * g + 0.5 * b;
      Cr[i] = 0.5 * r - 0.418688 * g - 0.081312 * b;
    }
    var y = boxPlane(Y, W, H, s, s), w = y.width, h = y.height, planes = [];
    [Cb, Cr].forEach(function (C) {
      var c = boxPlane(C, W, H, sub.y, sub.x);
      if (sub.y === 2) c = unblur(c, true);
      if (sub.x === 2) c = unblur(c, false);
      planes.push(boxPlane(c.data, c.width, c.height, s / sub.y, s / sub.x));
    });
    var out = new Uint8Array(w * h * 3), cb = planes[0], cr = planes[1];
    for (var yy = 0; yy < h; yy++) {
      for (var x = 0; x < w; x++) {
        // libjpeg rounds Y, Cb and Cr to whole numbers before turning them into RGB.
        var l = Math.round(y.data[yy * w + x]), o = (yy * w + x) * 3;
        var u = Math.min(127, Math.max(-128, Math.round(cb.data[yy * cb.width + x])));
        var v = Math.min(127, Math.max(-128, Math.round(cr.data[yy * cr.width + x])));
        out[o] = Math.min(255, Math.max(0, Math.round(l + 1.402 * v)));
        out[o + 1] = Math.min(255, Math.max(0, Math.round(l - 0.344136 * u - 0.714136 * v)));
        out[o + 2] = Math.min(255, Math.max(0, Math.round(l + 1.772 * u)));
      }
    }
    return { rgb: out, width: w, height: h };
  }

  /* The EXIF orientation (1-8) in a JPEG's first Exif APP1 segment, and where its value is
   * (`at`, -1 when there is none; `le`: little-endian). */
  function jpegOrientation(bytes) {
    var v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), i = 2;
    var none = { value: 1, at: -1, le: false };
    try {
      while (i + 4 <= bytes.length && bytes[i] === 0xff) {
        var marker = bytes[i + 1], len = v.getUint16(i + 2);
        if (marker === 0xda || marker === 0xd9) break; // image data starts: no more metadata
        if (marker === 0xe1 && len >= 16 && v.getUint32(i + 4) === 0x45786966 && v.getUint16(i + 8) === 0) {
          var t = i + 10, le = v.getUint16(t) === 0x4949;
          var ifd = t + v.getUint32(t + 4, le), count = v.getUint16(ifd, le);
          for (var e = 0; e < count; e++) {
            var at = ifd + 2 + e * 12;
            if (v.getUint16(at, le) === 0x0112) {
              var o = v.getUint16(at + 8, le);
              return { value: o >= 1 && o <= 8 ? o : 1, at: at + 8, le: le };
            }
          }
          return none;
        }
        i += 2 + len;
      }
    } catch (err) { // a damaged header runs past the end: no orientation, as Pillow would read it
      return none;
    }
    return none;
  }

  /* Pillow's exif_transpose on an RGB image: flips and quarter turns for orientations 2-8. */
  function oriented(img, orientation) {
    if (orientation === 1) return img;
    var w = img.width, h = img.height, swap = orientation >= 5, W = swap ? h : w, H = swap ? w : h;
    var out = new Uint8Array(W * H * 3);
    for (var y = 0; y < H; y++) {
      for (var x = 0; x < W; x++) {
        var sx, sy;
        switch (orientation) {
          case 2: sx = w - 1 - x; sy = y; break;
          case 3: sx = w - 1 - x; sy = h - 1 - y; break;
          case 4: sx = x; sy = h - 1 - y; break;
          case 5: sx = y; sy = x; break;
          case 6: sx = y; sy = h - 1 - x; break;
          case 7: sx = w - 1 - y; sy = h - 1 - x; break;
          default: sx = w - 1 - y; sy = x; // 8
        }
        var p = (sy * w + sx) * 3, q = (y * W + x) * 3;
        out[q] = img.rgb[p]; out[q + 1] = img.rgb[p + 1]; out[q + 2] = img.rgb[p + 2];
      }
    }
    return { rgb: out, width: W, height: H };
  }

  /* Pillow's precompute_coeffs with the bilinear (triangle) filter, in its 8-bit fixed point. */
  function coefficients(inSize, outSize) {
    var scale = inSize / outSize, filterscale = Math.max(scale, 1.0), support = 1.0 * filterscale;
    var ksize = Math.ceil(support) * 2 + 1, ss = 1.0 / filterscale;
    var bounds = new Int32Array(outSize * 2), kk = new Float64Array(outSize * ksize);
    for (var xx = 0; xx < outSize; xx++) {
      var center = (xx + 0.5) * scale, ww = 0.0;
      var xmin = Math.max(0, Math.trunc(center - support + 0.5));
      var xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
      var w = new Float64Array(xmax);
      for (var x = 0; x < xmax; x++) {
        var t = Math.abs((x + xmin - center + 0.5) * ss);
        w[x] = t < 1.0 ? 1.0 - t : 0.0;
        ww += w[x];
      }
      for (x = 0; x < xmax; x++) {
        var k = ww !== 0.0 ? w[x] / ww : w[x];
        kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
      }
      bounds[xx * 2] = xmin;
      bounds[xx * 2 + 1] = xmax;
    }
    return { bounds: bounds, kk: kk, ksize: ksize };
  }

  function clip8(v) {
    if (v >= ONE * 256) return 255;
    if (v <= 0) return 0;
    return Math.floor(v / ONE);
  }

  /* Resize (shorter side -> size, Pillow bilinear: horizontal pass, rounded to 8 bits, then
   * vertical) and centre crop; only the pixels inside the crop are computed. uint8 RGB, size^2. */
  function square(img, size) {
    var W = img.width, H = img.height, w, h;
    if (W <= H) { w = size; h = Math.trunc(size * H / W); } else { w = Math.trunc(size * W / H); h = size; }
    var left = Math.floor((w - size) / 2), top = Math.floor((h - size) / 2);
    var cx = coefficients(W, w), cy = coefficients(H, h);
    var rowFirst = cy.bounds[top * 2], rowLast = 0;
    for (var y = top; y < top + size; y++) rowLast = Math.max(rowLast, cy.bounds[y * 2] + cy.bounds[y * 2 + 1]);
    var rows = rowLast - rowFirst, mid = new Uint8Array(rows * size * 3), src = img.rgb;
    for (var r = 0; r < rows; r++) {
      var base = (r + rowFirst) * W * 3;
      for (var x = 0; x < size; x++) {
        var xx = x + left, xmin = cx.bounds[xx * 2], n = cx.bounds[xx * 2 + 1], k0 = xx * cx.ksize;
        var s0 = ONE / 2, s1 = ONE / 2, s2 = ONE / 2;
        for (var i = 0, p = base + xmin * 3; i < n; i++, p += 3) {
          var k = cx.kk[k0 + i];
          s0 += src[p] * k; s1 += src[p + 1] * k; s2 += src[p + 2] * k;
        }
        var o = (r * size + x) * 3;
        mid[o] = clip8(s0); mid[o + 1] = clip8(s1); mid[o + 2] = clip8(s2);
      }
    }
    var out = new Uint8Array(size * size * 3);
    for (y = 0; y < size; y++) {
      var yy = y + top, ymin = cy.bounds[yy * 2] - rowFirst, m = cy.bounds[yy * 2 + 1], q0 = yy * cy.ksize;
      for (x = 0; x < size; x++) {
        var t0 = ONE / 2, t1 = ONE / 2, t2 = ONE / 2;
        for (var j = 0; j < m; j++) {
          var kv = cy.kk[q0 + j], pm = ((ymin + j) * size + x) * 3;
          t0 += mid[pm] * kv; t1 += mid[pm + 1] * kv; t2 += mid[pm + 2] * kv;
        }
        var oo = (y * size + x) * 3;
        out[oo] = clip8(t0); out[oo + 1] = clip8(t1); out[oo + 2] = clip8(t2);
      }
    }
    return out;
  }

  /* The network's input: /255, (value - mean) / std per channel, float32 channel by channel. */
  function normalised(rgb, size) {
    var plane = size * size, x = new Float32Array(3 * plane);
    for (var c = 0; c < 3; c++) {
      var mean = Math.fround(M.mean[c]), std = Math.fround(M.std[c]);
      for (var i = 0; i < plane; i++) {
        x[c * plane + i] = Math.fround(Math.fround(rgb[i * 3 + c] / 255) - mean) / std;
      }
    }
    return x;
  }

  /* Draw a bitmap, image or video frame on white and read its RGBA pixels. */
  function pixelsOnWhite(source, width, height) {
    var canvas = document.createElement("canvas");
    canvas.width = width; canvas.height = height;
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(source, 0, 0, width, height);
    return ctx.getImageData(0, 0, width, height).data;
  }

  /* Decode to RGB on white, with the EXIF orientation applied. */
  async function decode(blob) {
    try {
      var bmp = await createImageBitmap(blob, {
        imageOrientation: "from-image", premultiplyAlpha: "none", colorSpaceConversion: "none"
      });
      var px = pixelsOnWhite(bmp, bmp.width, bmp.height), out = rgbOf(px, bmp.width, bmp.height);
      bmp.close();
      return out;
    } catch (err) { // older browsers: an <img> applies the orientation too
      var url = URL.createObjectURL(blob), img = new Image();
      try {
        img.src = url;
        await img.decode();
      } catch (e) {
        throw new Error("this file is not an image the browser can read");
      } finally {
        URL.revokeObjectURL(url);
      }
      return rgbOf(pixelsOnWhite(img, img.naturalWidth, img.naturalHeight), img.naturalWidth, img.naturalHeight);
    }
  }

  async function squareOf(blob) {
    var size = M.image_size, head = new Uint8Array(await blob.slice(0, 65536).arrayBuffer());
    if (!(head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff)) return square(await decode(blob), size);
    // A JPEG: reduced in its stored orientation (as libjpeg does), then turned. Browsers always
    // apply the EXIF orientation, so the tag is set to 1 in a copy for decoding.
    var orientation = jpegOrientation(head), stored = blob;
    if (orientation.at >= 0 && orientation.value !== 1) {
      var bytes = new Uint8Array(await blob.arrayBuffer());
      new DataView(bytes.buffer).setUint16(orientation.at, 1, orientation.le);
      stored = new Blob([bytes], { type: "image/jpeg" });
    }
    var img = await decode(stored), s = draftScale(img.width, img.height);
    return square(oriented(jpegReduced(img, s, jpegSubsampling(head)), orientation.value), size);
  }

  window.tlPrep = { squareOf: squareOf, square: square, rgbOf: rgbOf, pixelsOnWhite: pixelsOnWhite,
                   normalised: normalised };
})();
