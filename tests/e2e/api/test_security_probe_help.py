def show(label, r):
    ct = r.headers.get("content-type")
    try:
        j = r.json()
    except Exception:
        j = r.text[:200]
    code = j.get("code") if isinstance(j, dict) else None
    detail = j.get("detail") if isinstance(j, dict) else None
    print(f"{label}: {r.status_code} {ct} code={code} detail={detail!r} err={j.get('error') if isinstance(j, dict) else None}")
