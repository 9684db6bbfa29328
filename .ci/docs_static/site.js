// A figure of a notebook opens at its full resolution in a new tab when clicked.
document.addEventListener('click', (e) => {
  const img = e.target.closest('article img');
  if (img && !img.closest('a')) window.open(img.src, '_blank');
});
