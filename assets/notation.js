// The result's staff on the Knobs tab (ui/staff.py runs this as the js_on_load of the #result-staff element):
// abcjs (assets/abcjs, loaded by the element's head) draws props.value, the result as ABC, as an SVG staff,
// at load and whenever the value changes. Nothing is fetched: abcjs comes from the app's own files.
const draw = () => {
  const target = element.querySelector(".staff");
  if (!target) return;
  if (!props.value || !window.ABCJS) {
    target.replaceChildren();
    return;
  }
  window.ABCJS.renderAbc(target, props.value, {responsive: "resize", add_classes: true, staffwidth: 900});
  target.dataset.draws = String(Number(target.dataset.draws || 0) + 1);  // how many times it was drawn
};
watch("value", draw);
draw();
