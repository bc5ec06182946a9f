/** The dashboard's icon: a pot on a flame (a task on the back burner). */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect x="5" y="9" width="22" height="12" rx="3" fill="#64748b"/>
<rect x="3" y="8" width="26" height="3" rx="1.5" fill="#475569"/>
<path d="M16 22c-3 3-2 6 0 8 2-2 3-5 0-8z" fill="#f97316"/>
<path d="M10 24c-2 2-1 4 0 5 1-1 2-3 0-5zM22 24c-2 2-1 4 0 5 1-1 2-3 0-5z" fill="#fb923c"/>
</svg>
`;
