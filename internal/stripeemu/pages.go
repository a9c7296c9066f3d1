package stripeemu

import "html/template"

// parsePages parses the hosted page templates. They are constants of this
// package, so a parse error is a bug caught by any test; Must is fine here.
func parsePages() *template.Template {
	return template.Must(template.New("pages").Parse(pageTemplates))
}

const pageTemplates = `
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · {{.Merchant}}</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1a1f36;background:#f6f9fc}
.wrap{max-width:920px;margin:0 auto;padding:40px 20px;display:flex;gap:48px;flex-wrap:wrap}
.summary{flex:1 1 300px}
.pane{flex:1 1 360px;background:#fff;border-radius:8px;box-shadow:0 2px 5px rgba(60,66,87,.08),0 1px 1px rgba(0,0,0,.12);padding:28px}
.back{color:#697386;text-decoration:none;font-size:14px}
.back:hover{color:#1a1f36}
.merchant{font-weight:600;margin:18px 0 6px}
.amount{font-size:36px;font-weight:600;margin:0}
.lead{font-size:24px;font-weight:600;margin:0}
.muted{color:#697386;font-size:14px}
.test{display:inline-block;background:#ffde92;color:#a04b00;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:600;margin-left:6px}
label{display:block;font-size:13px;color:#3c4257;margin:16px 0 6px;font-weight:500}
input{width:100%;padding:10px 12px;font-size:15px;border:1px solid #d5dbe1;border-radius:6px;background:#fff;color:#1a1f36}
input:focus{outline:none;border-color:#635bff;box-shadow:0 0 0 3px rgba(99,91,255,.25)}
input[aria-invalid=true]{border-color:#df1b41}
.row{display:flex;gap:10px}.row>div{flex:1}
.field-error{color:#df1b41;font-size:13px;margin-top:4px}
.alert{background:#fff0f3;border:1px solid #ffc8d3;color:#a41c4e;border-radius:6px;padding:10px 12px;margin-top:16px}
button{width:100%;margin-top:24px;padding:12px;font-size:16px;font-weight:600;color:#fff;background:#635bff;border:0;border-radius:6px;cursor:pointer}
button:hover{background:#5046e4}
button.secondary{background:#fff;color:#df1b41;border:1px solid #df1b41;margin-top:12px}
.hint{margin-top:18px;font-size:12px;color:#8792a2}
</style>
</head>
<body>{{end}}

{{define "summary"}}
<div class="summary">
{{if .CancelURL}}<a class="back" id="cancel" href="{{.CancelURL}}">&larr; Cancel</a>{{end}}
<p class="merchant">{{.Merchant}} <span class="test">TEST MODE</span></p>
{{if .Setup}}<p class="lead">Save your card</p><p class="muted">{{.Merchant}} will be able to charge your card for future payments.</p>
{{else}}<p class="muted">Pay {{.Merchant}}</p><p class="amount" id="amount">{{.Amount}}</p>{{end}}
</div>{{end}}

{{define "form"}}{{template "head" .}}
<main class="wrap">
{{template "summary" .}}
<div class="pane">
<form method="post" novalidate>
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" value="{{.Email}}"{{with .Err "email"}} aria-invalid="true" aria-describedby="email-error"{{end}}>
{{with .Err "email"}}<div class="field-error" id="email-error" role="alert">{{.}}</div>{{end}}

<label for="cardNumber">Card information</label>
<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234" value="{{.CardNumber}}"{{with .Err "cardNumber"}} aria-invalid="true" aria-describedby="cardNumber-error"{{end}}>
{{with .Err "cardNumber"}}<div class="field-error" id="cardNumber-error" role="alert">{{.}}</div>{{end}}
<div class="row">
<div>
<label for="cardExpiry">Expiry</label>
<input id="cardExpiry" name="cardExpiry" inputmode="numeric" autocomplete="cc-exp" placeholder="MM / YY" value="{{.CardExpiry}}"{{with .Err "cardExpiry"}} aria-invalid="true" aria-describedby="cardExpiry-error"{{end}}>
{{with .Err "cardExpiry"}}<div class="field-error" id="cardExpiry-error" role="alert">{{.}}</div>{{end}}
</div>
<div>
<label for="cardCvc">CVC</label>
<input id="cardCvc" name="cardCvc" inputmode="numeric" autocomplete="cc-csc" placeholder="CVC" value="{{.CardCvc}}"{{with .Err "cardCvc"}} aria-invalid="true" aria-describedby="cardCvc-error"{{end}}>
{{with .Err "cardCvc"}}<div class="field-error" id="cardCvc-error" role="alert">{{.}}</div>{{end}}
</div>
</div>
{{with .CardError}}<div class="alert" id="card-error" role="alert">{{.}}</div>{{end}}

<label for="billingName">Name on card</label>
<input id="billingName" name="billingName" autocomplete="cc-name" value="{{.BillingName}}"{{with .Err "billingName"}} aria-invalid="true" aria-describedby="billingName-error"{{end}}>
{{with .Err "billingName"}}<div class="field-error" id="billingName-error" role="alert">{{.}}</div>{{end}}

<button type="submit" id="submit">{{if .Setup}}Save card{{else}}Pay{{end}}</button>
<p class="hint">Local Stripe emulator: use a test card such as 4242 4242 4242 4242, any future expiry and a 3-digit CVC (4 digits for American Express).</p>
</form>
</div>
</main>
</body>
</html>{{end}}

{{define "auth"}}{{template "head" .}}
<main class="wrap">
{{template "summary" .}}
<div class="pane">
<p class="lead">3D Secure 2 Test Page</p>
<p class="muted">This is a test authentication step for {{.Merchant}}{{if not .Setup}} ({{.Amount}}){{end}}. Choose how it ends.</p>
<form method="post">
<input type="hidden" name="auth_token" value="{{.AuthToken}}">
<button type="submit" id="test-source-authorize-3ds" name="auth_action" value="complete">Complete authentication</button>
<button type="submit" id="test-source-fail-3ds" class="secondary" name="auth_action" value="fail">Fail authentication</button>
</form>
</div>
</main>
</body>
</html>{{end}}

{{define "message"}}{{template "head" .}}
<main class="wrap">
<div class="pane">
<p class="merchant">{{.Merchant}} <span class="test">TEST MODE</span></p>
<p class="lead" id="message">{{.Message}}</p>
<p class="muted">{{.Detail}}</p>
{{if .ReturnURL}}<p><a class="back" href="{{.ReturnURL}}">Return to {{.Merchant}}</a></p>{{end}}
{{if .CancelURL}}<p><a class="back" href="{{.CancelURL}}">&larr; Back to {{.Merchant}}</a></p>{{end}}
</div>
</main>
</body>
</html>{{end}}
`
