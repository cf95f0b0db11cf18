// Read the page aloud with the browser's own speech synthesis (no network).
(function () {
  "use strict";
  var button = document.getElementById("read-aloud");
  if (!button || !("speechSynthesis" in window) || typeof SpeechSynthesisUtterance === "undefined") {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var main = document.getElementById("main");
    var text = main ? main.innerText.replace(button.innerText, "") : "";
    window.speechSynthesis.cancel();
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = document.documentElement.lang || "zh-CN";
    utterance.rate = 0.9;
    window.speechSynthesis.speak(utterance);
  });
})();
